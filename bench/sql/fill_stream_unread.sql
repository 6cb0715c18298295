-- The log for a consume run of the stream: :backlog records appended in
-- batches of 1000, all unread by group g.
SELECT format('SELECT count(*) FROM mq_append_batch(%L, ARRAY(SELECT bench.body(g) FROM generate_series(%s, %s) AS g))',
              's', i, i + 999)
  FROM generate_series(1, :backlog, 1000) AS i \gexec
