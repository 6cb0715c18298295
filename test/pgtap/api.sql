-- The public API exists with the signatures SPEC section 3 gives.
BEGIN;
SELECT plan(3);
SELECT has_function('mq_send', ARRAY['text', 'jsonb', 'jsonb', 'interval', 'integer', 'text']);
SELECT has_function('mq_read', ARRAY['text', 'integer', 'interval', 'interval']);
SELECT has_type('mq_message');
SELECT * FROM finish();
ROLLBACK;
