--
-- mq_inspect, mq_delete and mq_move (SPEC section 3b): browsing in id
-- order in every state without leasing, and removing or moving messages
-- by id whatever their state.
--
SELECT mq_create_queue('idm_q', visibility_timeout => '1 hour');
SELECT mq_create_queue('idm_to');
-- 1..6: two priorities, one delayed.
SELECT mq_send('idm_q', jsonb_build_object('n', g), priority => CASE WHEN g % 2 = 0 THEN 5 ELSE 0 END)
  FROM generate_series(1, 5) g;
SELECT mq_send('idm_q', '{"n": 6}', headers => '{"h": 1}', delay => '1 day');
-- The highest priority first: 2 is read and leased.
SELECT id, receipt FROM mq_read('idm_q') \gset lease_

-- Every message, in id order, in its state; nothing is leased or counted.
SELECT id, state, priority, group_key, deliveries, headers, body,
       (lease_until > now() + interval '59 minutes') AS lease_for_an_hour,
       lease_pid = pg_backend_pid() AS lease_mine,
       visible_at > now() + interval '23 hours' AS later
  FROM mq_inspect('idm_q');
SELECT state, count(*) FROM mq_inspect('idm_q') GROUP BY state ORDER BY state;
SELECT id FROM mq_inspect('idm_q', 'ready');
SELECT id FROM mq_inspect('idm_q', 'inflight');
SELECT id FROM mq_inspect('idm_q', 'delayed');
SELECT deliveries FROM mq_inspect('idm_q') WHERE id = 1;
-- Keyset paging: after_id and qty.
SELECT id FROM mq_inspect('idm_q', after_id => 0, qty => 2);
SELECT id FROM mq_inspect('idm_q', after_id => 2, qty => 2);
SELECT id FROM mq_inspect('idm_q', after_id => 4, qty => 2);
SELECT id FROM mq_inspect('idm_q', after_id => 6, qty => 2);
SELECT id FROM mq_inspect('idm_q', 'ready', after_id => 1, qty => 1);
-- Delayed messages are found through the delay index, yet come in id
-- order and page by id: 7..10 are due in the reverse order of their ids,
-- and 11 was due already.
SELECT mq_send('idm_q', jsonb_build_object('n', g), delay => make_interval(hours => 20 - g))
  FROM generate_series(7, 10) g;
SELECT mq_send('idm_q', '{"n": 11}', delay => '0.01 seconds') AS due_id \gset
SELECT pg_sleep(0.05);
SELECT id FROM mq_inspect('idm_q', 'delayed');
SELECT id FROM mq_inspect('idm_q', 'delayed', qty => 2);
SELECT id FROM mq_inspect('idm_q', 'delayed', after_id => 7, qty => 2);
SELECT id FROM mq_inspect('idm_q', 'delayed', after_id => 9, qty => 2);
SELECT id, state FROM mq_inspect('idm_q', after_id => 10);
SELECT mq_delete('idm_q', ARRAY[7, 8, 9, 10, 11]::bigint[]);
-- Arguments.
SELECT * FROM mq_inspect('idm_q', 'leased');
\echo :SQLSTATE
SELECT * FROM mq_inspect('idm_q', NULL);
\echo :SQLSTATE
SELECT * FROM mq_inspect('idm_q', qty => 0);
\echo :SQLSTATE
SELECT * FROM mq_inspect('idm_q', qty => 10001);
\echo :SQLSTATE
SELECT * FROM mq_inspect('idm_none');
\echo :SQLSTATE

-- mq_delete: any state, a leased one too; unknown ids are not counted.
SELECT mq_delete('idm_q', ARRAY[:lease_id, 6, 999, 6]);
SELECT id, state FROM mq_inspect('idm_q');
-- The deleted leased message's receipt is unknown now.
SELECT mq_ack('idm_q', :lease_receipt, strict => false);
\set VERBOSITY sqlstate
SELECT mq_ack('idm_q', :lease_receipt);
\set VERBOSITY default
-- Lease one (4, the highest priority) to move it while leased below.
SELECT receipt AS r FROM mq_read('idm_q') \gset
SELECT mq_delete('idm_q', ARRAY[]::bigint[]);
SELECT mq_delete('idm_q', NULL);
\echo :SQLSTATE
SELECT mq_delete('idm_q', ARRAY[1, NULL]);
\echo :SQLSTATE
-- Rolled back, nothing is deleted.
BEGIN;
SELECT mq_delete('idm_q', ARRAY[1, 3]);
ROLLBACK;
SELECT count(*) FROM mq_inspect('idm_q');

-- mq_move: to the end of another queue with a new id, ready, no
-- deliveries, the same body, headers and priority; a leased one too.
SELECT mq_send('idm_q', '{"n": 7}', headers => '{"trace": "x"}', priority => 9) AS seven \gset
SELECT mq_move('idm_q', ARRAY[1, 4, :seven, 999], 'idm_to');
SELECT id, state, priority, deliveries, headers, body FROM mq_inspect('idm_to');
SELECT id FROM mq_inspect('idm_q');
-- The lease of a moved message is gone with it: acking it finds nothing.
SELECT mq_ack('idm_q', :r, strict => false);
SELECT mq_move('idm_q', ARRAY[3], 'idm_q');
\echo :SQLSTATE
SELECT mq_move('idm_q', ARRAY[3], 'idm_none');
\echo :SQLSTATE
SELECT mq_move('idm_q', ARRAY[3], NULL);
\echo :SQLSTATE

-- Privileges: inspect needs read; delete and move need manage (and send on
-- the target).
CREATE ROLE idm_reader;
CREATE ROLE idm_manager;
SELECT mq_grant('idm_q', 'idm_reader', ARRAY['read']);
SELECT mq_grant('idm_q', 'idm_manager', ARRAY['manage']);
SET ROLE idm_reader;
SELECT count(*) FROM mq_inspect('idm_q');
SELECT mq_delete('idm_q', ARRAY[3]);
\echo :SQLSTATE
RESET ROLE;
SET ROLE idm_manager;
SELECT mq_move('idm_q', ARRAY[3], 'idm_to');
\echo :SQLSTATE
SELECT mq_delete('idm_q', ARRAY[3]);
RESET ROLE;
SELECT id FROM mq_inspect('idm_q');

-- A prepared transaction cannot delete or move.
BEGIN;
SELECT mq_delete('idm_q', ARRAY[5]);
PREPARE TRANSACTION 'idm';
SELECT id FROM mq_inspect('idm_q');

SELECT mq_drop_queue('idm_q');
SELECT mq_drop_queue('idm_to');
DROP ROLE idm_reader;
DROP ROLE idm_manager;
