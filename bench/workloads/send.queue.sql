-- send, one message per transaction: the queue
SELECT mq_send('q', '{"order": 1234, "customer": "c-000042", "sku": "SKU-12345-XL", "qty": 3, "price": 19.99, "note": "gift"}');
