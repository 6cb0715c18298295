-- A first end-to-end pass: create, send, read, ack.
SELECT mq_create_queue('smoke');
SELECT mq_send('smoke', '{"n": 1}');
SELECT id, body, deliveries FROM mq_read('smoke');
SELECT mq_drop_queue('smoke');
