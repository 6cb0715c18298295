-- append, one record per transaction: raw SQL
INSERT INTO raw_log (body) VALUES ('{"order": 1234, "customer": "c-000042", "sku": "SKU-12345-XL", "qty": 3, "price": 19.99, "note": "gift"}');
