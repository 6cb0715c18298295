-- The log for a consume run of PgQ: :backlog events inserted 1000 per
-- transaction, each thousand closed by a tick, so that consumer c gets them
-- in batches of 1000.
SELECT q FROM generate_series(1, :backlog, 1000) AS i,
       LATERAL (VALUES (1, format('SELECT count(pgq.insert_event(%L, %L, bench.body(g)::text)) FROM generate_series(%s, %s) AS g',
                                  'pc', 'order', i, i + 999)),
                       (2, 'SELECT pgq.ticker(''pc'')')) AS v(o, q)
 ORDER BY i, o \gexec
-- Close the last batch for sure.
SELECT pgq.force_tick('pc');
SELECT pgq.ticker('pc');
