--
-- mq_remove and mq_delay: deleting messages by id and returning them (for
-- an archive kept in the same transaction), and making messages ready at a
-- given time by id, whatever their state.
--
SELECT mq_create_queue('rd_q');
SELECT count(*) FROM (SELECT mq_send('rd_q', jsonb_build_object('n', g), headers => '{"h": 1}')
                        FROM generate_series(1, 6) g) s;
SELECT mq_send('rd_q', '{"n": 7}', priority => 5);
SELECT id, receipt FROM mq_read('rd_q', 1, '1 hour') \gset r7_
SELECT id, receipt FROM mq_read('rd_q', 1, '1 hour') \gset r1_
\echo :r7_id :r1_id

-- mq_remove returns each message deleted as it was: the leased one with
-- its lease, the ready one ready; an id not in the queue gives no row.
SELECT id, state, priority, deliveries, lease_until > now() AS leased,
       lease_pid IS NOT NULL AS lease_pid, headers, body
  FROM mq_remove('rd_q', ARRAY[1, 3, 99, 3]);
-- The removed lease's receipt acks nothing.
SELECT mq_ack('rd_q', :r1_receipt, strict => false);
SELECT id, state FROM mq_inspect('rd_q');

-- An archive in the caller's transaction: the rows go where the caller says.
CREATE TABLE rd_archive AS SELECT * FROM mq_remove('rd_q', ARRAY[]::bigint[]);
INSERT INTO rd_archive SELECT * FROM mq_remove('rd_q', ARRAY[2, 4]);
SELECT id, state, deliveries, body FROM rd_archive ORDER BY id;
SELECT id FROM mq_inspect('rd_q');

-- mq_delay: the leased message 7 is put off an hour; its lease ends (the
-- receipt acks nothing) and its delivery stays counted.
SELECT id, state, deliveries, lease_until, lease_pid,
       visible_at > now() + interval '59 minutes' AS in_an_hour
  FROM mq_delay('rd_q', ARRAY[:r7_id], '1 hour');
SELECT mq_ack('rd_q', :r7_receipt, strict => false);
SELECT id, state, deliveries FROM mq_inspect('rd_q');
SELECT id, deliveries FROM mq_read('rd_q', 10, '1 hour');
-- Ready at once (the default delay): 7, delayed, and 5, leased; 6 stays
-- leased; 99 is not there.
SELECT id, state, deliveries, visible_at <= clock_timestamp() AS now_ready
  FROM mq_delay('rd_q', ARRAY[7, 5, 99]);
SELECT id, state, deliveries FROM mq_inspect('rd_q');
SELECT id, deliveries FROM mq_read('rd_q', 10, '1 hour');
-- A ready message put off, and one put off again.
SELECT mq_send('rd_q', '{"n": 8}') AS id8 \gset
SELECT id, state FROM mq_delay('rd_q', ARRAY[:id8], '10 minutes');
SELECT id, state, visible_at > now() + interval '50 minutes' AS in_an_hour
  FROM mq_delay('rd_q', ARRAY[:id8], '1 hour');
SELECT ready, inflight, delayed FROM mq_queues WHERE queue = 'rd_q';

-- Bad input.
SELECT mq_delay('rd_q', NULL);
\echo :SQLSTATE
SELECT mq_delay('rd_q', ARRAY[1], NULL);
\echo :SQLSTATE
SELECT mq_delay('rd_q', ARRAY[1], '-1 second');
\echo :SQLSTATE
SELECT mq_remove('rd_q', NULL);
\echo :SQLSTATE
SELECT mq_remove('rd_none', ARRAY[1]);
\echo :SQLSTATE
SELECT mq_delay('rd_none', ARRAY[1]);
\echo :SQLSTATE
SELECT mq_delay('bad name', ARRAY[1]);
\echo :SQLSTATE

DROP TABLE rd_archive;
SELECT mq_drop_queue('rd_q');
