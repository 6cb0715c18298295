-- Exactly-once processing with the application's own tables.
--
-- A producer writes its order and the order's message in one transaction
-- (the transactional outbox): both commit or neither does, and a retry of an
-- uncertain commit cannot send the order twice, because the message's
-- idempotency key is the order id.  A consumer does its work and acks in
-- one transaction: if its lease was lost meanwhile (the message went to
-- another consumer), the strict ack raises SQLSTATE 55000 and the work rolls
-- back with it, so every order is shipped exactly once.
--
-- Run it with psql against a database with the queue extension:
--     psql -v ON_ERROR_STOP=1 -f examples/outbox.sql

\set QUIET on
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS queue;

DROP TABLE IF EXISTS outbox_orders, outbox_shipments;
SELECT mq_drop_queue('outbox_orders', if_exists => true) \g /dev/null
SELECT mq_drop_queue('outbox_orders_failed', if_exists => true) \g /dev/null

CREATE TABLE outbox_orders (
    order_id   bigint PRIMARY KEY,
    item       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE outbox_shipments (
    order_id   bigint PRIMARY KEY REFERENCES outbox_orders,
    shipped_at timestamptz NOT NULL DEFAULT now()
);

-- Messages that fail three times end up here instead of blocking the queue.
SELECT mq_create_queue('outbox_orders_failed') \g /dev/null
SELECT mq_create_queue('outbox_orders',
                       visibility_timeout => '30 seconds',
                       max_deliveries => 3,
                       dead_letter_queue => 'outbox_orders_failed') \g /dev/null

-- ---------------------------------------------------------------------
-- Producer: the order and its message in one transaction.
-- ---------------------------------------------------------------------
BEGIN;
INSERT INTO outbox_orders (order_id, item) VALUES (1001, 'book');
SELECT mq_send('outbox_orders', '{"order_id": 1001, "item": "book"}',
               idempotency_key => '1001') AS message_id \gset
COMMIT;
\echo 'order 1001 sent as message' :message_id

-- The producer's connection broke before it saw COMMIT succeed, so it
-- retries.  The order row exists already; the send is a duplicate and
-- returns the first message's id instead of sending again.
BEGIN;
INSERT INTO outbox_orders (order_id, item) VALUES (1001, 'book') ON CONFLICT DO NOTHING;
SELECT mq_send('outbox_orders', '{"order_id": 1001, "item": "book"}',
               idempotency_key => '1001') AS retried_id \gset
COMMIT;
\echo 'the retry returned message' :retried_id '(no second message)'

-- ---------------------------------------------------------------------
-- Consumer: the work and the ack in one transaction.
-- ---------------------------------------------------------------------
BEGIN;
SELECT receipt, body FROM mq_read('outbox_orders') \gset
INSERT INTO outbox_shipments (order_id) VALUES ((:'body'::jsonb->>'order_id')::bigint);
SELECT mq_ack('outbox_orders', :receipt) AS acked;   -- strict: 55000 if the lease was lost
COMMIT;

SELECT o.order_id, o.item, s.shipped_at IS NOT NULL AS shipped
  FROM outbox_orders o LEFT JOIN outbox_shipments s USING (order_id);
SELECT queue, depth FROM mq_queues WHERE queue LIKE 'outbox_orders%' ORDER BY queue;
