-- consume to the client, 1000 records per transaction: the stream's group
BEGIN;
SELECT * FROM mq_consume('s', 'g', 1000);
COMMIT;
