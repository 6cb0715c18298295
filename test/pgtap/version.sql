-- mq_version() names the loaded library's version, which on a fresh
-- install is the extension's version and the default one.
BEGIN;
SELECT plan(3);
SELECT is(mq_version(), (SELECT extversion FROM pg_extension WHERE extname = 'queue'),
    'mq_version() is the installed extension version');
SELECT is(mq_version(), (SELECT default_version FROM pg_available_extensions WHERE name = 'queue'),
    'and the default version');
SELECT matches(mq_version(), '^[0-9]+\.[0-9]+\.[0-9]+$', 'in the form major.minor.patch');
SELECT * FROM finish();
ROLLBACK;
