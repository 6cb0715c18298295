-- The backlog for a consume run of the queue: :backlog messages, one batch.
SELECT count(*) AS sent
  FROM mq_send_batch('q', ARRAY(SELECT bench.body(g) FROM generate_series(1, :backlog) AS g));
