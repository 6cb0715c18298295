#!/usr/bin/env python3
"""Ship the orders of a queue, each exactly once.

Every message is handled in one transaction:

    BEGIN
    mq_read(queue, wait => ...)          long poll: lease the next order
    INSERT INTO shop_shipments ...       the work, in the application's table
    mq_ack(queue, receipt)               strict: raises 55000 if the lease was lost
    COMMIT

so the shipment and the ack commit together or not at all.  If the worker
dies before COMMIT, its transaction rolls back and the order is delivered
again; if it ran past the visibility timeout and another worker got the
order meanwhile, the strict ack fails and the shipment rolls back.

When shipping fails, the work is rolled back and the message nacked with a
delay that doubles with every delivery; once the queue's max_deliveries is
used up, the queue moves it to its dead-letter queue.  SIGTERM or Ctrl-C
lets the order in hand finish (or ends a long poll at once), then the worker
exits with status 0.

Connection settings come from the libpq environment (PGHOST, PGPORT,
PGDATABASE, PGUSER, ...).  Set the tables and queues up with ../shop.sql.
"""
import argparse
import logging
import os
import signal
import time
from datetime import timedelta

import psycopg
from psycopg import errors
from psycopg.rows import dict_row

log = logging.getLogger("worker")


class ShippingError(Exception):
    """The work failed for now; the message is retried later."""


def ship(conn, worker, msg, work_ms):
    """The work: ship an order and record it in the application's table."""
    order = msg["body"]
    time.sleep(work_ms / 1000)  # stands for talking to the carrier
    # A message can ask to fail on its first deliveries, to show retries.
    if msg["deliveries"] <= order.get("fail_times", 0):
        raise ShippingError("carrier unavailable")
    conn.execute(
        "INSERT INTO shop_shipments (order_id, worker, deliveries)"
        " VALUES (%s, %s, %s)",
        (order["order_id"], worker, msg["deliveries"]))


class Worker:
    def __init__(self, args):
        self.args = args
        self.stopping = False
        self.polling = False    # True while waiting in mq_read
        # autocommit: transactions are only those of conn.transaction()
        self.conn = psycopg.connect(autocommit=True, row_factory=dict_row,
                                    application_name=args.name)

    def stop(self, signum, frame):
        self.stopping = True
        if self.polling:
            # Nothing in hand: end the long poll now.  A cancelled mq_read
            # raises 57014 and leaves no lease behind.
            self.conn.cancel()

    def run(self):
        args = self.args
        log.info("reading %s", args.queue)
        shipped = 0
        while not self.stopping:
            msg = None
            try:
                with self.conn.transaction():
                    self.polling = True
                    try:
                        msg = self.conn.execute(
                            "SELECT id, receipt, body, deliveries"
                            "  FROM mq_read(%s, qty => 1, wait => %s)",
                            (args.queue, timedelta(seconds=args.wait))).fetchone()
                    finally:
                        self.polling = False
                    if msg is not None:
                        log.debug("order %s: delivery %d",
                                  msg["body"]["order_id"], msg["deliveries"])
                        shipped += self.handle(msg)
                # committed here: the shipment and the ack, or the nack
            except errors.QueryCanceled:
                if not self.stopping:
                    raise
                # stop() cancelled the long poll (or, by a hair, the ack):
                # the transaction rolled back, nothing is left half done.
            except errors.ObjectNotInPrerequisiteState as e:
                # 55000: the lease ran out and another worker got the order.
                # The strict ack (or nack) failed, so the work rolled back.
                log.warning("order %s: lease lost (%s)", msg["body"]["order_id"],
                            e.diag.message_primary)
            if self.stopping and msg is not None:
                log.info("stopping after order %s", msg["body"]["order_id"])
        self.conn.close()
        log.info("stopped; shipped %d orders", shipped)

    def handle(self, msg):
        """Ship one order and ack it, or nack it for a later retry.
        Returns 1 when the order was shipped."""
        args = self.args
        try:
            with self.conn.transaction():  # a savepoint: undo the work on failure
                ship(self.conn, args.name, msg, args.work_ms)
        except Exception as e:
            delay = min(args.retry_base * 2 ** (msg["deliveries"] - 1), args.retry_max)
            log.warning("order %s: delivery %d failed (%s); retry in %.2fs",
                        msg["body"]["order_id"], msg["deliveries"], e, delay)
            self.conn.execute("SELECT mq_nack(%s, %s, delay => %s)",
                              (args.queue, msg["receipt"], timedelta(seconds=delay)))
            return 0
        self.conn.execute("SELECT mq_ack(%s, %s)", (args.queue, msg["receipt"]))
        return 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--queue", default="shop_orders")
    p.add_argument("--name", default=f"py-worker-{os.getpid()}",
                   help="recorded with each shipment and as application_name")
    p.add_argument("--wait", type=float, default=10,
                   help="longest long poll, seconds (cut to queue.max_wait)")
    p.add_argument("--work-ms", type=int, default=0,
                   help="simulated processing time per message")
    p.add_argument("--retry-base", type=float, default=1,
                   help="delay before the first retry, seconds; doubles each time")
    p.add_argument("--retry-max", type=float, default=60,
                   help="longest delay between retries, seconds")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="log every delivery")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO,
                        format=f"%(asctime)s {args.name} %(message)s")
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)

    worker = Worker(args)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    worker.run()


if __name__ == "__main__":
    main()
