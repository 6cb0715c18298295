-- send with an idempotency key, one message per transaction: the queue
-- Every call a new key ("order-<client>-<n>", n counts the client's calls
-- from 1; run.sh passes -D seq=0), so every send looks the key up, finds
-- nothing, and inserts the message and a key row.
\set seq :seq + 1
SELECT mq_send('q', '{"order": 1234, "customer": "c-000042", "sku": "SKU-12345-XL", "qty": 3, "price": 19.99, "note": "gift"}', idempotency_key => 'order-' || :client_id || '-' || :seq);
