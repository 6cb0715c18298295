-- The backlog for a consume run of raw_q: :backlog rows.
INSERT INTO raw_q (body) SELECT bench.body(g) FROM generate_series(1, :backlog) AS g;
