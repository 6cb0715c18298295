/*
 * queue 0.1.0 -> 0.2.0: no change to SQL objects.
 *
 * 0.1.0 is the first version whose install script is kept as released
 * (sql/queue--0.1.0.sql); from here on every change to sql/queue.sql
 * comes with an update script from the version before, and
 * test/t/013_upgrade.pl checks that installing the oldest version and
 * updating gives what a fresh install gives.
 */

\echo Use "ALTER EXTENSION queue UPDATE TO '0.2.0'" to load this file. \quit
