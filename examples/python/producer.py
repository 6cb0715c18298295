#!/usr/bin/env python3
"""Place orders, each with its message, in one transaction (transactional outbox).

For every order the producer inserts the business row and sends the message
in the same transaction: both commit or neither does, so no order is lost
and no message announces an order that does not exist.  The message's
idempotency key is the order id, and the row is inserted with ON CONFLICT
DO NOTHING, so placing an order again (say after a connection broke during
COMMIT, when the outcome is unknown) sends no second message.

Connection settings come from the libpq environment (PGHOST, PGPORT,
PGDATABASE, PGUSER, ...).  Set the tables and queues up with ../shop.sql.
"""
import argparse

import psycopg
from psycopg.types.json import Jsonb

ITEMS = ["book", "lamp", "mug", "pen"]


def place_order(conn, queue, order_id, fail_times=0):
    """Insert the order and send its message atomically.  Returns False
    when the order existed already (then nothing is sent again)."""
    body = {"order_id": order_id, "item": ITEMS[order_id % len(ITEMS)]}
    if fail_times:
        body["fail_times"] = fail_times  # asks the worker to fail that often
    with conn.transaction():
        new = conn.execute(
            "INSERT INTO shop_orders (order_id, item) VALUES (%s, %s)"
            " ON CONFLICT (order_id) DO NOTHING",
            (order_id, body["item"])).rowcount == 1
        conn.execute("SELECT mq_send(%s, %s, idempotency_key => %s)",
                     (queue, Jsonb(body), str(order_id)))
    return new


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--queue", default="shop_orders")
    p.add_argument("--first", type=int, default=1, help="first order id")
    p.add_argument("--count", type=int, default=10, help="how many orders")
    p.add_argument("--fail-every", type=int, default=0, metavar="N",
                   help="every Nth order asks the worker to fail first")
    p.add_argument("--fail-times", type=int, default=2,
                   help="how many deliveries of such an order fail")
    args = p.parse_args()

    placed = 0
    with psycopg.connect(autocommit=True, application_name="py-producer") as conn:
        for order_id in range(args.first, args.first + args.count):
            failing = args.fail_every and order_id % args.fail_every == 0
            placed += place_order(conn, args.queue, order_id,
                                  args.fail_times if failing else 0)
    print(f"placed {placed} orders ({args.count - placed} were there already)")


if __name__ == "__main__":
    main()
