-- append, one record per transaction: the stream
SELECT * FROM mq_append('s', '{"order": 1234, "customer": "c-000042", "sku": "SKU-12345-XL", "qty": 3, "price": 19.99, "note": "gift"}');
