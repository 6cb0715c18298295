-- send, one message per transaction: PgQ
SELECT pgq.insert_event('pq', 'order', '{"order": 1234, "customer": "c-000042", "sku": "SKU-12345-XL", "qty": 3, "price": 19.99, "note": "gift"}');
