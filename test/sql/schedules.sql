-- Schedules (SPEC section 10): creating, altering and dropping them, every
-- error, privileges, and the times a cron expression gives (mq_cron_next),
-- across daylight-saving changes.  Runs fired by the worker are tested in
-- test/t/060_schedules.pl; the schedules here are set years ahead, so the
-- worker leaves them alone.
SELECT mq_create_queue('sch_q');
SELECT mq_create_topic('sch_t');
SELECT mq_create_stream('sch_s');

-- One on each kind of target.
SELECT mq_create_schedule('sch_report', '0 3 1 1 *', 'sch_q', '{"report": "yearly"}',
                          headers => '{"team": "ops"}', timezone => 'Europe/Berlin');
SELECT mq_create_schedule('sch_pub', '@yearly', 'sch_t', '{"p": 1}', routing_key => 'a.b');
SELECT mq_create_schedule('sch_app', '0 0 1 1 *', 'sch_s', '{"a": 1}', routing_key => 'k1',
                          catch_up => true);
SELECT schedule, owner, cron, timezone, target, paused, next_run > now() AS ahead,
       last_run, runs, last_error, catch_up, routing_key, body, headers
  FROM mq_schedules WHERE schedule LIKE 'sch\_%' ORDER BY schedule;
-- The time zone is stored as the database of zones spells it.
SELECT mq_create_schedule('sch_zone', '0 0 1 1 *', 'sch_q', '{}', timezone => 'europe/berlin');
SELECT timezone FROM mq_schedules WHERE schedule = 'sch_zone';
SELECT mq_drop_schedule('sch_zone');

-- The next run is the expression's next time in the zone.
SELECT next_run = (SELECT t FROM mq_cron_next('0 3 1 1 *', 'Europe/Berlin') t) AS right_time
  FROM mq_schedules WHERE schedule = 'sch_report';

-- Existing names: 42710, or a notice with if_not_exists.  Schedules have a
-- namespace of their own: a schedule may share a queue's name.
\set VERBOSITY sqlstate
SELECT mq_create_schedule('sch_report', '* * * * *', 'sch_q', '{}');
\set VERBOSITY default
SELECT mq_create_schedule('sch_report', '* * * * *', 'sch_q', '{}', if_not_exists => true);
SELECT mq_create_schedule('sch_q', '0 0 1 1 *', 'sch_q', '{}');
SELECT mq_drop_schedule('sch_q');

-- Bad input: 22023, and nothing is created.
\set VERBOSITY sqlstate
SELECT mq_create_schedule('sch_bad', '* * * *', 'sch_q', '{}');
SELECT mq_create_schedule('sch_bad', '60 * * * *', 'sch_q', '{}');
SELECT mq_create_schedule('sch_bad', '0 0 30 2 *', 'sch_q', '{}');
SELECT mq_create_schedule('sch_bad', '0 seconds', 'sch_q', '{}');
SELECT mq_create_schedule('sch_bad', '60 seconds', 'sch_q', '{}');
SELECT mq_create_schedule('sch_bad', '@reboot', 'sch_q', '{}');
SELECT mq_create_schedule('sch_bad', '* * * * *', 'sch_q', '{}', timezone => 'Mars/Olympus');
SELECT mq_create_schedule('sch_bad', '* * * * *', 'sch_q', '{}', timezone => NULL);
SELECT mq_create_schedule('sch_bad', '* * * * *', 'sch_t', '{}');
SELECT mq_create_schedule('sch_bad', '* * * * *', 'sch_t', '{}', routing_key => 'a..b');
SELECT mq_create_schedule('sch_bad', '* * * * *', 'sch_q', '{}', routing_key => 'a');
SELECT mq_create_schedule('sch_bad', '* * * * *', 'sch_q', NULL);
SELECT mq_create_schedule('sch_bad', NULL, 'sch_q', '{}');
SELECT mq_create_schedule('sch_bad', '* * * * *', NULL, '{}');
SELECT mq_create_schedule('sch bad', '* * * * *', 'sch_q', '{}');
SELECT mq_create_schedule('sch_bad', '* * * * *', 'sch_q', '{}', headers => '{"mq_x": 1}');
SELECT mq_create_schedule('sch_bad', '* * * * *', 'sch_q', '{}', headers => '[1]');
SELECT mq_create_schedule('sch_bad', '* * * * *', 'sch_q', '{}', catch_up => NULL);
SELECT mq_alter_schedule('sch_report', cron => '* * *');
SELECT mq_alter_schedule('sch_report', timezone => 'Nowhere');
SELECT mq_alter_schedule('sch_report', headers => '{"mq_schedule": 1}');
SELECT mq_cron_next('* * * * *', count => 0);
SELECT mq_cron_next('nonsense');
-- Unknown targets and schedules: 42704.
SELECT mq_create_schedule('sch_bad', '* * * * *', 'sch_nowhere', '{}');
SELECT mq_alter_schedule('sch_nowhere', paused => true);
SELECT mq_drop_schedule('sch_nowhere');
\set VERBOSITY default
SELECT mq_drop_schedule('sch_nowhere', if_exists => true);
SELECT count(*) FROM mq_schedules WHERE schedule = 'sch_bad';
-- The messages say what is wrong.
SELECT mq_create_schedule('sch_bad', '*/0 * * * *', 'sch_q', '{}');
SELECT mq_create_schedule('sch_bad', '* * * * *', 'sch_t', '{}');
SELECT mq_create_schedule('sch_bad', '* * * * *', 'sch_nowhere', '{}');

-- Altering: pause and resume keep the next time; a new expression or zone
-- starts from now; '{}' removes the headers.
SELECT next_run AS before FROM mq_schedules WHERE schedule = 'sch_report' \gset
SELECT mq_alter_schedule('sch_report', paused => true);
SELECT paused, next_run = :'before' AS kept FROM mq_schedules WHERE schedule = 'sch_report';
SELECT mq_alter_schedule('sch_report', paused => false, body => '{"report": "v2"}', catch_up => true);
SELECT paused, catch_up, body, next_run = :'before' AS kept FROM mq_schedules WHERE schedule = 'sch_report';
SELECT mq_alter_schedule('sch_report', cron => '0 4 1 1 *', timezone => 'America/New_York');
SELECT cron, timezone,
       next_run = (SELECT t FROM mq_cron_next('0 4 1 1 *', 'America/New_York') t) AS right_time
  FROM mq_schedules WHERE schedule = 'sch_report';
SELECT mq_alter_schedule('sch_report', headers => '{}');
SELECT headers FROM mq_schedules WHERE schedule = 'sch_report';
SELECT mq_alter_schedule('sch_report', headers => '{"v": 2}');
SELECT headers FROM mq_schedules WHERE schedule = 'sch_report';

-- Dropping the target drops its schedules.
SELECT mq_drop_topic('sch_t');
SELECT schedule FROM mq_schedules WHERE schedule LIKE 'sch\_%' ORDER BY schedule;
SELECT mq_drop_schedule('sch_app');
SELECT mq_drop_schedule('sch_app', if_exists => true);

-- Privileges: creating needs send on the target; altering and dropping
-- need the owner's privileges or manage on the target; each role sees the
-- schedules it owns or whose target it may see.
CREATE ROLE mq_sch_owner;
CREATE ROLE mq_sch_sender;
CREATE ROLE mq_sch_manager;
CREATE ROLE mq_sch_nobody;
SELECT mq_grant('sch_q', 'mq_sch_sender', '{send}');
SELECT mq_grant('sch_q', 'mq_sch_manager', '{manage}');
SET ROLE mq_sch_nobody;
\set VERBOSITY sqlstate
SELECT mq_create_schedule('sch_n', '0 0 1 1 *', 'sch_q', '{}');
SELECT mq_alter_schedule('sch_report', paused => true);
SELECT mq_drop_schedule('sch_report');
\set VERBOSITY default
SELECT count(*) FROM mq_schedules;
RESET ROLE;
SET ROLE mq_sch_sender;
SELECT mq_create_schedule('sch_s1', '0 0 1 1 *', 'sch_q', '{"from": "sender"}');
SELECT schedule, owner FROM mq_schedules ORDER BY schedule;
\set VERBOSITY sqlstate
SELECT mq_alter_schedule('sch_report', paused => true);
\set VERBOSITY default
SELECT mq_alter_schedule('sch_report', paused => true);
SELECT mq_alter_schedule('sch_s1', paused => true);
RESET ROLE;
SET ROLE mq_sch_manager;
SELECT mq_alter_schedule('sch_s1', paused => false);
SELECT mq_alter_schedule('sch_report', paused => false);
RESET ROLE;
-- A role cannot be dropped while it owns a schedule; REASSIGN OWNED hands
-- schedules over, DROP OWNED drops them.
SELECT mq_revoke('sch_q', 'mq_sch_sender');
DROP ROLE mq_sch_sender;
REASSIGN OWNED BY mq_sch_sender TO mq_sch_owner;
SELECT schedule, owner FROM mq_schedules WHERE schedule = 'sch_s1';
DROP ROLE mq_sch_sender;
DROP OWNED BY mq_sch_owner;
SELECT count(*) FROM mq_schedules WHERE schedule = 'sch_s1';
SELECT mq_revoke('sch_q', 'mq_sch_manager');
DROP ROLE mq_sch_owner;
DROP ROLE mq_sch_manager;
DROP ROLE mq_sch_nobody;

-- The times a cron expression gives: fields, names, lists, ranges, steps,
-- macros, the day-of-month/day-of-week rule, leap days, 'N seconds'.
SELECT expr, array_agg(to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD Dy HH24:MI:SS') ORDER BY t) AS next
  FROM (VALUES ('* * * * *'), ('*/15 9-17 * * mon-fri'), ('0 0 1 1 *'), ('30 2 * * *'),
               ('0 0 29 2 *'), ('5,10-20/5 */3 1,15 jan,jul sun'), ('0 12 * * 7'),
               ('@hourly'), ('@daily'), ('@weekly'), ('@monthly'), ('0 0 13 * fri'),
               ('0 0 31 * *'), ('0 22 * * 1-5'), ('23 0-20/2 * * *'), ('0 0,12 1 */2 *'),
               ('10 seconds'), ('1 second'), ('59 seconds')) e (expr)
 CROSS JOIN LATERAL mq_cron_next(expr, 'UTC', '2026-12-06 08:41:38.5+00', 4) t
 GROUP BY expr ORDER BY expr;

-- Daylight saving in Europe/Berlin: clocks go forward at 02:00 on
-- 2026-03-29 (02:00-02:59 does not exist) and back at 03:00 on 2026-10-25
-- (02:00-02:59 happens twice).  A time in the gap runs once, when it ends;
-- a repeated time runs once, at its first occurrence -- but a schedule of
-- every hour runs by the clock in both passes.
SET TIME ZONE 'Europe/Berlin';
SELECT expr, array_agg(to_char(t, 'MM-DD HH24:MI TZ') ORDER BY t) AS next
  FROM (VALUES ('30 2 * * *'), ('0 2 * * *'), ('*/30 * * * *'), ('0 * * * *'),
               ('30 1-3 * * *'), ('*/20 2 * * *')) e (expr)
 CROSS JOIN LATERAL mq_cron_next(expr, 'Europe/Berlin', '2026-03-28 23:00+01', 6) t
 GROUP BY expr ORDER BY expr;
SELECT expr, array_agg(to_char(t, 'MM-DD HH24:MI TZ') ORDER BY t) AS next
  FROM (VALUES ('30 2 * * *'), ('0 2 * * *'), ('*/30 * * * *'), ('0 * * * *'),
               ('30 1-3 * * *'), ('*/20 2 * * *')) e (expr)
 CROSS JOIN LATERAL mq_cron_next(expr, 'Europe/Berlin', '2026-10-25 00:50+02', 7) t
 GROUP BY expr ORDER BY expr;
-- Across a whole year of changes, a daily schedule runs once a day.
SELECT count(*), count(DISTINCT (t AT TIME ZONE 'Europe/Berlin')::date)
  FROM mq_cron_next('30 2 * * *', 'Europe/Berlin', '2026-01-01 00:00+01', 365) t;
-- New York's clocks change at 02:00 too, on other days.
SET TIME ZONE 'America/New_York';
SELECT to_char(t, 'MM-DD HH24:MI TZ') FROM mq_cron_next('30 2 * * *', 'America/New_York', '2026-03-07 12:00', 3) t;
SELECT to_char(t, 'MM-DD HH24:MI TZ') FROM mq_cron_next('30 1 * * *', 'America/New_York', '2026-10-31 12:00', 3) t;
RESET TIME ZONE;

SELECT mq_drop_schedule('sch_report');
SELECT mq_drop_schedule('sch_pub', if_exists => true);
SELECT mq_drop_queue('sch_q');
SELECT mq_drop_stream('sch_s');
SELECT count(*) FROM mq.schedules;
