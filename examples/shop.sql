-- Tables and queues of the client examples (examples/python, examples/node).
--
-- A shop places orders (producer) and ships them (worker).  The order and
-- its message are written in one transaction; the shipment and the ack too,
-- so every order is shipped exactly once.  Safe to run again.
--
--     psql -v ON_ERROR_STOP=1 -f examples/shop.sql

\set QUIET on
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS queue;

CREATE TABLE IF NOT EXISTS shop_orders (
    order_id   bigint PRIMARY KEY,
    item       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The worker's result.  The primary key is the business id, so an order
-- cannot be shipped twice.
CREATE TABLE IF NOT EXISTS shop_shipments (
    order_id   bigint PRIMARY KEY REFERENCES shop_orders,
    worker     text NOT NULL,            -- who shipped it
    deliveries int NOT NULL,             -- on which delivery of the message
    shipped_at timestamptz NOT NULL DEFAULT now()
);

-- An order whose shipping fails on five deliveries ends up in
-- shop_orders_failed instead of being retried forever.
SELECT mq_create_queue('shop_orders_failed', if_not_exists => true) \g /dev/null
SELECT mq_create_queue('shop_orders',
                       visibility_timeout => '30 seconds',
                       max_deliveries => 5,
                       dead_letter_queue => 'shop_orders_failed',
                       if_not_exists => true) \g /dev/null
