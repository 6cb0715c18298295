-- fan-out: one publish to a topic with 10 subscribed queues (10 copies)
SELECT mq_publish('orders', 'order.created', '{"order": 1234, "customer": "c-000042", "sku": "SKU-12345-XL", "qty": 3, "price": 19.99, "note": "gift"}');
