-- fan-out by hand: 10 mq_send calls, one per queue, in one transaction
BEGIN;
SELECT mq_send('f1', '{"order": 1234, "customer": "c-000042", "sku": "SKU-12345-XL", "qty": 3, "price": 19.99, "note": "gift"}');
SELECT mq_send('f2', '{"order": 1234, "customer": "c-000042", "sku": "SKU-12345-XL", "qty": 3, "price": 19.99, "note": "gift"}');
SELECT mq_send('f3', '{"order": 1234, "customer": "c-000042", "sku": "SKU-12345-XL", "qty": 3, "price": 19.99, "note": "gift"}');
SELECT mq_send('f4', '{"order": 1234, "customer": "c-000042", "sku": "SKU-12345-XL", "qty": 3, "price": 19.99, "note": "gift"}');
SELECT mq_send('f5', '{"order": 1234, "customer": "c-000042", "sku": "SKU-12345-XL", "qty": 3, "price": 19.99, "note": "gift"}');
SELECT mq_send('f6', '{"order": 1234, "customer": "c-000042", "sku": "SKU-12345-XL", "qty": 3, "price": 19.99, "note": "gift"}');
SELECT mq_send('f7', '{"order": 1234, "customer": "c-000042", "sku": "SKU-12345-XL", "qty": 3, "price": 19.99, "note": "gift"}');
SELECT mq_send('f8', '{"order": 1234, "customer": "c-000042", "sku": "SKU-12345-XL", "qty": 3, "price": 19.99, "note": "gift"}');
SELECT mq_send('f9', '{"order": 1234, "customer": "c-000042", "sku": "SKU-12345-XL", "qty": 3, "price": 19.99, "note": "gift"}');
SELECT mq_send('f10', '{"order": 1234, "customer": "c-000042", "sku": "SKU-12345-XL", "qty": 3, "price": 19.99, "note": "gift"}');
COMMIT;
