'use strict';
// The console's HTTP API against a real PostgreSQL with queue: every
// endpoint, privileges, read-only mode, CSRF, the token, bad input.

const http = require('node:http');
const test = require('node:test');
const assert = require('node:assert/strict');
const { conninfo, sql, startConsole, until } = require('./helpers');
const { createApp, statusOf } = require('../lib/app');
const { createPool, parseConninfo } = require('../lib/db');
const { History } = require('../lib/history');

const skip = conninfo ? false : 'QUEUE_CONSOLE_TEST_DB is not set (test/t/077_console.pl sets it)';
const one = async (text, params) => Object.values((await sql(text, params))[0])[0];
const noStack = (r) => assert.doesNotMatch(r.text, /\n\s+at /, 'no stack trace in the answer');

test.describe('console API', { skip }, () => {
  let c;

  test.before(async () => {
    await sql(`SELECT mq_drop_topic('sv_events', if_exists => true)`);
    await sql(`SELECT mq_drop_stream('sv_ledger', if_exists => true)`);
    for (const q of ['sv_work', 'sv_other', 'sv_hidden', 'sv_dlq']) {
      await sql(`SELECT mq_drop_queue($1, if_exists => true)`, [q]);
    }
    await sql(`SELECT mq_create_queue('sv_dlq')`);
    await sql(`SELECT mq_create_queue('sv_work', dead_letter_queue => 'sv_dlq', max_deliveries => 1)`);
    await sql(`SELECT mq_create_queue('sv_other')`);
    await sql(`SELECT mq_create_queue('sv_hidden')`);
    await sql(`SELECT mq_create_topic('sv_events')`);
    await sql(`SELECT mq_subscribe('sv_events', 'sv_other', 'order.*')`);
    await sql(`SELECT mq_create_stream('sv_ledger', partitions => 2)`);
    await sql(`SELECT mq_create_group('sv_ledger', 'sv_billing')`);
    for (const role of ['sv_nobody', 'sv_reader']) {
      await sql(`DO $$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${role}') THEN CREATE ROLE ${role} LOGIN; END IF;
      END $$`);
    }
    await sql(`SELECT mq_grant('sv_work', 'sv_reader', ARRAY['read'])`);
    c = await startConsole();
  });

  test.after(async () => {
    if (c) await c.close();
    await sql(`SELECT mq_drop_topic('sv_events', if_exists => true)`);
    await sql(`SELECT mq_drop_stream('sv_ledger', if_exists => true)`);
    for (const q of ['sv_work', 'sv_other', 'sv_hidden', 'sv_dlq']) {
      await sql(`SELECT mq_drop_queue($1, if_exists => true)`, [q]);
    }
    await sql(`DROP ROLE IF EXISTS sv_nobody`);
    await sql(`DROP ROLE IF EXISTS sv_reader`);
  });

  test.it('GET /api/session names the role and database and gives a CSRF token', async () => {
    const r = await c.api('/api/session');
    assert.equal(r.status, 200);
    assert.equal(r.json.role, await one('SELECT current_user'));
    assert.equal(r.json.database, await one('SELECT current_database()'));
    assert.equal(r.json.version, await one('SELECT mq_version()'));
    assert.equal(r.json.read_only, false);
    assert.match(r.json.csrf, /^[A-Za-z0-9_-]{40,}$/);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.match(r.headers.get('content-security-policy'), /default-src 'self'/);
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
  });

  test.it('GET /api/overview lists queues, topics and streams with their figures', async () => {
    await sql(`SELECT mq_send('sv_work', '{"n": 1}')`);
    await sql(`SELECT mq_send('sv_work', '{"n": 2}', delay => '1 hour')`);
    await sql(`SELECT mq_append('sv_ledger', '{"credit": 5}', key => 'a')`);
    const r = await c.api('/api/overview?fresh=1');
    assert.equal(r.status, 200);
    const q = r.json.queues.find((x) => x.name === 'sv_work');
    assert.ok(q, 'sv_work listed');
    assert.equal(q.depth, 2);
    assert.equal(q.ready, 1);
    assert.equal(q.delayed, 1);
    assert.equal(q.inflight, 0);
    assert.equal(q.dead_letter_queue, 'sv_dlq');
    assert.equal(q.dead_letter_depth, 0);
    assert.equal(q.counters.sent, 2);
    assert.equal(q.spark.sent.length, 60);
    assert.ok(r.json.queues.find((x) => x.name === 'sv_dlq').is_dead_letter_queue);
    const t = r.json.topics.find((x) => x.name === 'sv_events');
    assert.deepEqual(t.subscriptions, [{ queue: 'sv_other', pattern: 'order.*' }]);
    const s = r.json.streams.find((x) => x.name === 'sv_ledger');
    assert.equal(s.partitions.length, 2);
    assert.equal(s.records, 1);
    assert.equal(s.groups[0].name, 'sv_billing');
    assert.equal(s.groups[0].lag, 1);
  });

  test.it('the overview follows sends live and counts rates', async () => {
    const before = (await c.api('/api/overview?fresh=1')).json.queues.find((x) => x.name === 'sv_other');
    await sql(`SELECT mq_send('sv_other', jsonb_build_object('i', i)) FROM generate_series(1, 5) i`);
    const after = await until(async () => {
      const q = (await c.api('/api/overview')).json.queues.find((x) => x.name === 'sv_other');
      return q.depth === before.depth + 5 && q.rates.sent > 0 ? q : null;
    }, 10000, 'the sampler to see five sends');
    assert.ok(after.spark.sent.some((v) => v > 0), 'the sparkline shows the sends');
  });

  test.it('problems come first: a dead letter, a growing oldest age, a growing lag', async () => {
    const [m] = await sql(`SELECT * FROM mq_read('sv_work', 1)`);
    await sql(`SELECT mq_nack('sv_work', $1, reason => 'boom')`, [m.receipt]);
    assert.equal(await one(`SELECT depth FROM mq_queues WHERE queue = 'sv_dlq'`), '1');
    await sql(`SELECT mq_send('sv_hidden', '{}')`);
    await sql(`SELECT mq_append('sv_ledger', '{"credit": 6}', key => 'b')`);
    const ov = await until(async () => {
      await new Promise((r) => setTimeout(r, 300));
      const o = (await c.api('/api/overview?fresh=1')).json;
      const hidden = o.queues.find((x) => x.name === 'sv_hidden');
      const ledger = o.streams.find((x) => x.name === 'sv_ledger');
      return hidden.problems.length && ledger.problems.length ? o : null;
    }, 15000, 'problems to show');
    const dlq = ov.queues.find((x) => x.name === 'sv_dlq');
    assert.ok(dlq.problems.includes('1 dead letter'), dlq.problems.join(', '));
    const work = ov.queues.find((x) => x.name === 'sv_work');
    assert.ok(work.problems.includes('dead-letter queue sv_dlq holds 1'));
    assert.match(ov.queues.find((x) => x.name === 'sv_hidden').problems[0], /oldest ready message \d+ s old and growing/);
    assert.match(ov.streams.find((x) => x.name === 'sv_ledger').problems[0], /group sv_billing lags 2/);
    const firstClean = ov.queues.findIndex((x) => x.problems.length === 0);
    if (firstClean >= 0) {
      assert.ok(ov.queues.slice(firstClean).every((x) => x.problems.length === 0), 'problems sorted first');
    }
  });

  test.it('GET /api/queues/:name gives options, dead-letter sources and the history', async () => {
    const r = await c.api('/api/queues/sv_dlq');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.dead_letter_sources, ['sv_work']);
    assert.equal(r.json.options.visibility_timeout, '00:00:30', 'intervals as PostgreSQL writes them');
    assert.equal(r.json.options.unlogged, false);
    const w = await c.api('/api/queues/sv_work');
    assert.equal(w.json.options.dead_letter_queue, 'sv_dlq');
    assert.ok(w.json.series.length >= 2);
    assert.equal(w.json.series[0].length, 9);
    const missing = await c.api('/api/queues/sv_nope');
    assert.equal(missing.status, 404);
    assert.match(missing.json.error, /sv_nope/);
  });

  test.it('GET /api/queues/:name/messages pages by state with keyset paging', async () => {
    await sql(`SELECT mq_purge('sv_other')`);
    await sql(`SELECT mq_send('sv_other', jsonb_build_object('i', i), headers => '{"h": 1}') FROM generate_series(1, 5) i`);
    const p1 = await c.api('/api/queues/sv_other/messages?state=ready&qty=2');
    assert.equal(p1.status, 200);
    assert.equal(p1.json.messages.length, 2);
    assert.deepEqual(p1.json.messages.map((m) => m.body.i), [1, 2]);
    assert.deepEqual(p1.json.messages[0].headers, { h: 1 });
    assert.equal(p1.json.next_after_id, p1.json.messages[1].id);
    const p3 = await c.api(`/api/queues/sv_other/messages?state=ready&qty=2&after_id=${p1.json.messages[1].id}`);
    assert.deepEqual(p3.json.messages.map((m) => m.body.i), [3, 4]);
    const last = await c.api(`/api/queues/sv_other/messages?qty=2&after_id=${p3.json.messages[1].id}`);
    assert.deepEqual(last.json.messages.map((m) => m.body.i), [5]);
    assert.equal(last.json.next_after_id, null);
    assert.equal((await c.api('/api/queues/sv_other/messages?state=delayed')).json.messages.length, 0);
    const dl = await c.api('/api/queues/sv_dlq/messages');
    assert.equal(dl.json.messages[0].dead_letter.queue, 'sv_work');
    assert.equal(dl.json.messages[0].dead_letter.reason !== undefined, true);
  });

  test.it('bad input is answered with a clear message and status, never a stack', async () => {
    const cases = [
      ['/api/queues/sv_other/messages?state=sideways', 400, /state must be/],
      ['/api/queues/sv_other/messages?after_id=abc', 400, /bad message id/],
      ['/api/queues/sv_other/messages?qty=0', 400, /qty must be/],
      ['/api/queues/sv_other/messages?qty=many', 400, /qty must be/],
      ['/api/queues/sv_nope/messages', 404, /sv_nope/],
      ['/api/streams/sv_nope', 404, /sv_nope/],
      ['/api/nothing', 404, /no such endpoint/],
    ];
    for (const [path, status, re] of cases) {
      const r = await c.api(path);
      assert.equal(r.status, status, path);
      assert.match(r.json.error, re, path);
      noStack(r);
    }
    const posts = [
      ['/api/queues/sv_other/delete', { ids: ['x'] }, 400, /bad message id/],
      ['/api/queues/sv_other/delete', { ids: [] }, 400, /ids must be a list/],
      ['/api/queues/sv_other/delete', { ids: '1' }, 400, /ids must be a list/],
      ['/api/queues/sv_other/delete', { ids: ['99999999999999999999'] }, 400, /bad message id/],
      ['/api/queues/sv_other/delete', [1], 400, /JSON object/],
      ['/api/queues/sv_nope/delete', { ids: [1] }, 404, /sv_nope/],
      ['/api/queues/sv_other/move', { ids: [1], to_queue: 'sv_nope' }, 404, /sv_nope/],
      ['/api/queues/sv_other/move', { ids: [1] }, 400, /to_queue must be a name/],
      ['/api/queues/sv_other/send', { headers: {} }, 400, /needs a body/],
      ['/api/queues/sv_other/send', { body: 1, headers: [1] }, 400, /headers must be a JSON object/],
      ['/api/queues/sv_other/send', { body: 1, headers: { mq_x: 1 } }, 400, /mq_/],
      ['/api/queues/sv_other/send', { body: 1, delay_seconds: -1 }, 400, /delay_seconds/],
      ['/api/streams/sv_ledger/seek', { group: 'sv_billing', partition: 0, position: 'x' }, 400, /position must be/],
      ['/api/streams/sv_ledger/seek', { group: 'sv_billing', at: 'not a time' }, 400, /at must be a time/],
      ['/api/streams/sv_ledger/seek', { group: 'sv_nope', partition: 0, position: 0 }, 404, /sv_nope/],
    ];
    for (const [path, body, status, re] of posts) {
      const r = await c.api(path, { method: 'POST', body });
      assert.equal(r.status, status, `${path} ${JSON.stringify(body)}: ${r.text}`);
      assert.match(r.json.error, re, path);
      noStack(r);
    }
    const bad = await c.api('/api/queues/sv_other/send', { method: 'POST', body: '{"body": ', raw: true });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error, 'the request body is not valid JSON');
    noStack(bad);
    assert.equal(await one(`SELECT depth FROM mq_queues WHERE queue = 'sv_other'`), '5', 'nothing lost');
  });

  test.it('POST send, delete, move, redrive and purge act and say how many', async () => {
    await sql(`SELECT mq_purge('sv_hidden')`);
    const sent = await c.api('/api/queues/sv_other/send', { method: 'POST',
      body: { body: { hello: 'world' }, headers: { k: 'v' }, priority: 3 } });
    assert.equal(sent.status, 200, sent.text);
    const [row] = await sql(`SELECT body, headers, priority FROM mq_inspect('sv_other') WHERE id = $1`, [sent.json.id]);
    assert.deepEqual(row.body, { hello: 'world' });
    assert.deepEqual(row.headers, { k: 'v' });
    assert.equal(row.priority, 3);
    const ids = (await sql(`SELECT id FROM mq_inspect('sv_other') ORDER BY id LIMIT 3`)).map((r) => r.id);
    const del = await c.api('/api/queues/sv_other/delete', { method: 'POST', body: { ids: [ids[0]] } });
    assert.deepEqual(del.json, { count: '1' });
    const mv = await c.api('/api/queues/sv_other/move', { method: 'POST', body: { ids: ids.slice(1), to_queue: 'sv_hidden' } });
    assert.deepEqual(mv.json, { count: '2' });
    assert.equal(await one(`SELECT depth FROM mq_queues WHERE queue = 'sv_hidden'`), '2');
    // Redrive: by id, by source queue, all.
    for (let i = 0; i < 3; i++) {
      await sql(`SELECT mq_send('sv_work', jsonb_build_object('dl', $1::int))`, [i]);
      const [m] = await sql(`SELECT * FROM mq_read('sv_work', 1)`);
      await sql(`SELECT mq_nack('sv_work', $1, reason => 'boom')`, [m.receipt]);
    }
    const letters = (await sql(`SELECT id FROM mq_inspect('sv_dlq') ORDER BY id`)).map((r) => r.id);
    assert.equal(letters.length, 4);
    const counts = await c.api('/api/queues/sv_dlq/dead-letters');
    assert.deepEqual(counts.json, { sources: [{ queue: 'sv_work', ready: 4 }], ready: 4, complete: true });
    const r1 = await c.api('/api/queues/sv_dlq/redrive', { method: 'POST', body: { ids: [letters[0]] } });
    assert.deepEqual(r1.json, { count: '1' });
    const r2 = await c.api('/api/queues/sv_dlq/redrive', { method: 'POST', body: { source_queue: 'sv_work', max: 2 } });
    assert.deepEqual(r2.json, { count: '2' });
    const r3 = await c.api('/api/queues/sv_dlq/redrive', { method: 'POST', body: {} });
    assert.deepEqual(r3.json, { count: '1' });
    assert.equal(await one(`SELECT depth FROM mq_queues WHERE queue = 'sv_dlq'`), '0');
    assert.equal(await one(`SELECT ready FROM mq_queues WHERE queue = 'sv_work'`), '4');
    const pg = await c.api('/api/queues/sv_work/purge', { method: 'POST', body: {} });
    assert.deepEqual(pg.json, { count: '5' });
    assert.equal(await one(`SELECT depth FROM mq_queues WHERE queue = 'sv_work'`), '0');
  });

  test.it('GET /api/streams/:name and POST seek by position and by time', async () => {
    const r = await c.api('/api/streams/sv_ledger');
    assert.equal(r.status, 200);
    assert.equal(r.json.options.partitions, 2);
    assert.equal(r.json.current.partitions.length, 2);
    assert.ok(r.json.lag_series.sv_billing.points.length >= 1);
    const part = (await sql(`SELECT partition FROM mq_streams WHERE stream = 'sv_ledger' AND records > 0 LIMIT 1`))[0].partition;
    const s1 = await c.api('/api/streams/sv_ledger/seek', { method: 'POST', body: { group: 'sv_billing', partition: part, position: 1 } });
    assert.equal(s1.status, 200, s1.text);
    assert.equal(await one(`SELECT "position" FROM mq_groups WHERE stream = 'sv_ledger' AND consumer_group = 'sv_billing' AND partition = $1`, [part]), '1');
    const s2 = await c.api('/api/streams/sv_ledger/seek', { method: 'POST', body: { group: 'sv_billing', at: new Date(Date.now() + 3600e3).toISOString() } });
    assert.equal(s2.status, 200, s2.text);
    assert.equal(await one(`SELECT sum(lag) FROM mq_groups WHERE stream = 'sv_ledger' AND consumer_group = 'sv_billing'`), '0');
  });

  test.it('actions need POST, JSON, the CSRF token and this origin', async () => {
    const session = (await c.api('/api/session')).json;
    const cases = [
      [{ method: 'POST', body: {}, headers: { 'X-CSRF-Token': 'forged' } }, 403, /CSRF/],
      [{ method: 'POST', body: {}, headers: { 'X-CSRF-Token': '' } }, 403, /CSRF/],
      [{ method: 'POST', body: {}, headers: { Origin: 'http://evil.example' } }, 403, /cross-origin/],
      [{ method: 'POST', body: '{}', raw: true, headers: { 'Content-Type': 'text/plain' } }, 415, /JSON body/],
      [{ method: 'PUT', body: {} }, 405, /POST/],
      [{ method: 'DELETE' }, 405, /POST/],
    ];
    for (const [opts, status, re] of cases) {
      const r = await c.api('/api/queues/sv_other/purge', opts);
      assert.equal(r.status, status, JSON.stringify(opts));
      assert.match(r.json.error, re);
    }
    const noToken = await fetch(`${c.base}/api/queues/sv_other/purge`, { method: 'POST',
      headers: { 'Content-Type': 'application/json' }, body: '{}' });
    assert.equal(noToken.status, 403);
    const evilHost = await new Promise((resolve, reject) => {
      const req = http.request(`${c.base}/api/overview`, { headers: { Host: 'evil.example' } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(evilHost, 403, 'a foreign Host header is refused (DNS rebinding)');
    assert.ok(session.csrf);
    assert.notEqual(await one(`SELECT depth FROM mq_queues WHERE queue = 'sv_other'`), '0', 'nothing was purged');
  });

  test.it('read-only mode shows everything and refuses every action', async () => {
    const ro = await startConsole({ readOnly: true });
    try {
      assert.equal((await ro.api('/api/session')).json.read_only, true);
      assert.ok((await ro.api('/api/overview')).json.queues.some((q) => q.name === 'sv_other'));
      assert.equal((await ro.api('/api/queues/sv_other/messages')).status, 200);
      const depth = await one(`SELECT depth FROM mq_queues WHERE queue = 'sv_other'`);
      for (const a of ['purge', 'delete', 'send']) {
        const r = await ro.api(`/api/queues/sv_other/${a}`, { method: 'POST', body: { ids: [1], body: 1 } });
        assert.equal(r.status, 403, a);
        assert.match(r.json.error, /read-only/);
      }
      const s = await ro.api('/api/streams/sv_ledger/seek', { method: 'POST', body: { group: 'sv_billing', partition: 0, position: 0 } });
      assert.equal(s.status, 403);
      assert.equal(await one(`SELECT depth FROM mq_queues WHERE queue = 'sv_other'`), depth);
    } finally {
      await ro.close();
    }
  });

  test.it('with a token, every request needs it (Bearer or basic auth)', async () => {
    const t = await startConsole({ token: 's3cret-token' });
    try {
      const none = await fetch(`${t.base}/api/overview`);
      assert.equal(none.status, 401);
      assert.match(none.headers.get('www-authenticate'), /^Basic /);
      const page = await fetch(`${t.base}/`);
      assert.equal(page.status, 401, 'the page too');
      const wrong = await fetch(`${t.base}/api/overview`, { headers: { Authorization: 'Bearer nope' } });
      assert.equal(wrong.status, 401);
      const bearer = await fetch(`${t.base}/api/overview`, { headers: { Authorization: 'Bearer s3cret-token' } });
      assert.equal(bearer.status, 200);
      const basic = await fetch(`${t.base}/api/overview`, {
        headers: { Authorization: `Basic ${Buffer.from('ops:s3cret-token').toString('base64')}` } });
      assert.equal(basic.status, 200);
      const act = await t.api('/api/queues/sv_nope/purge', { method: 'POST', body: {} });
      assert.equal(act.status, 404, 'an action with the token and CSRF reaches the database');
    } finally {
      await t.close();
    }
    const pool = createPool(conninfo);
    try {
      assert.throws(() => createApp({ pool, listenHost: '0.0.0.0' }), /needs a token/);
      const beyond = createApp({ pool, listenHost: '0.0.0.0', token: 'x' });
      beyond.close();
    } finally {
      await pool.end();
    }
  });

  test.it('privileges: a role without read sees nothing of a queue and cannot act on it', async () => {
    const nobody = await startConsole({ role: 'sv_nobody' });
    const reader = await startConsole({ role: 'sv_reader' });
    try {
      const ov = (await nobody.api('/api/overview?fresh=1')).json;
      assert.equal(ov.queues.filter((q) => q.name.startsWith('sv_')).length, 0, 'no sv_ queue shown');
      assert.equal(ov.streams.filter((s) => s.name.startsWith('sv_')).length, 0);
      assert.equal(ov.topics.filter((s) => s.name.startsWith('sv_')).length, 0);
      assert.equal((await nobody.api('/api/queues/sv_work')).status, 404);
      const msgs = await nobody.api('/api/queues/sv_other/messages');
      assert.equal(msgs.status, 403);
      assert.equal(msgs.json.sqlstate, '42501');
      const depth = await one(`SELECT depth FROM mq_queues WHERE queue = 'sv_other'`);
      const id = await one(`SELECT min(id) FROM mq_inspect('sv_other')`);
      for (const [a, body] of [['delete', { ids: [id] }], ['purge', {}], ['send', { body: 1 }], ['move', { ids: [id], to_queue: 'sv_hidden' }]]) {
        const r = await nobody.api(`/api/queues/sv_other/${a}`, { method: 'POST', body });
        assert.equal(r.status, 403, `${a}: ${r.text}`);
        assert.equal(r.json.sqlstate, '42501');
      }
      assert.equal((await nobody.api('/api/streams/sv_ledger/seek', { method: 'POST',
        body: { group: 'sv_billing', partition: 0, position: 0 } })).json.sqlstate, '42501');
      assert.equal(await one(`SELECT depth FROM mq_queues WHERE queue = 'sv_other'`), depth, 'nothing changed');

      // A reader of sv_work sees it (and only it), browses it, and may not delete or purge.
      await sql(`SELECT mq_purge('sv_work')`);
      await sql(`SELECT mq_send('sv_work', '{"r": 1}')`);
      const rov = (await reader.api('/api/overview?fresh=1')).json;
      assert.deepEqual(rov.queues.filter((q) => q.name.startsWith('sv_')).map((q) => q.name), ['sv_work'],
        JSON.stringify(await sql(`SELECT * FROM mq_grants WHERE grantee = 'sv_reader'::regrole`)));
      const rm = await reader.api('/api/queues/sv_work/messages');
      assert.equal(rm.status, 200);
      assert.equal(rm.json.messages.length, 1);
      const rdel = await reader.api('/api/queues/sv_work/delete', { method: 'POST', body: { ids: [rm.json.messages[0].id] } });
      assert.equal(rdel.status, 403);
      assert.equal(await one(`SELECT depth FROM mq_queues WHERE queue = 'sv_work'`), '1');
    } finally {
      await nobody.close();
      await reader.close();
    }
  });
});

test.describe('pieces', () => {
  test.it('connection strings: URIs and key=value pairs', () => {
    assert.deepEqual(parseConninfo('postgresql://u@h/db'), { connectionString: 'postgresql://u@h/db' });
    assert.deepEqual(parseConninfo("host=/tmp port=5433 dbname='my db' user=x"),
      { host: '/tmp', port: '5433', database: 'my db', user: 'x' });
    assert.throws(() => parseConninfo('colour=blue'), /unknown connection option "colour"/);
    assert.throws(() => parseConninfo('host=/tmp ???'), /cannot parse/);
  });

  test.it('history: rates from counters, resets, and a queue created again starts afresh', () => {
    const h = new History({ staleAfter: 10 });
    const snap = (created, sent, age) => ({
      queues: [{ name: 'q', created_at: created, depth: 1, ready: 1, inflight: 0, delayed: 0,
        oldest_ready_age: age, dead_letter_queue: null, counters: { sent, acked: 0, dead_lettered: 0 } }],
      topics: [], streams: [] });
    h.add(snap('A', 100, 20), 1000);
    h.add(snap('A', 110, 25), 1005);
    let q = h.overview(1005).queues[0];
    assert.equal(q.rates.sent, 2);
    assert.deepEqual(q.problems, ['oldest ready message 25 s old and growing']);
    h.add(snap('A', 4, 30), 1010);
    assert.equal(h.overview(1010).queues[0].rates.sent, 0.8, 'a counter that went down counts from zero');
    h.add(snap('B', 1, 0), 1015);
    q = h.overview(1015).queues[0];
    assert.equal(q.rates.sent, null, 'no rate from the dropped queue of the same name');
    assert.equal(h.queueSeries('q').length, 1);
    assert.deepEqual(q.problems, []);
  });

  test.it('SQLSTATEs map to HTTP statuses', () => {
    assert.equal(statusOf('42704'), 404);
    assert.equal(statusOf('42501'), 403);
    assert.equal(statusOf('22023'), 400);
    assert.equal(statusOf('55000'), 409);
    assert.equal(statusOf('XX000'), 500);
  });
});
