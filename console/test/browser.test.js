'use strict';
// The console's page in a browser: Chromium (CHROMIUM, else /usr/bin/chromium)
// headless through playwright-core, against a console served in this process
// on the test database (QUEUE_CONSOLE_TEST_DB).  Each test does what a user
// would (reads a table, clicks, accepts a confirmation) and checks the result
// in SQL.  Screenshots go to QUEUE_CONSOLE_ARTIFACTS (default
// console/test-artifacts).
//
//   node build.js && QUEUE_CONSOLE_TEST_DB="..." node --test test/browser.test.js

const { test, describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { conninfo, sql, startConsole, until } = require('./helpers');

const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = path.resolve(process.env.QUEUE_CONSOLE_ARTIFACTS || path.join(__dirname, '..', 'test-artifacts'));

let skip = false;
if (!conninfo) skip = 'QUEUE_CONSOLE_TEST_DB is not set (a libpq connection string of a superuser on a database with queue)';
else if (!fs.existsSync(executablePath)) skip = `no Chromium at ${executablePath} (install chromium, or set CHROMIUM)`;

const WAIT = 10000;

// Object names of these tests, dropped before and after.
async function dropObjects() {
  await sql(`SELECT mq_drop_topic('br_events', if_exists => true)`);
  await sql(`SELECT mq_drop_stream('br_ledger', if_exists => true)`);
  for (const q of ['br_orders', 'br_work', 'br_dlq']) await sql(`SELECT mq_drop_queue($1, if_exists => true)`, [q]);
}

const one = async (text, params) => (await sql(text, params))[0];
const queueFigures = (name) => one(`SELECT depth::int, ready::int FROM mq_queues WHERE queue = $1`, [name]);

// Skipped: one test that says why (a skipped suite would report nothing).
if (skip) test('the console in a browser', { skip }, () => {});
else describe('the console in a browser', () => {
  let browser;
  let context;
  let page;
  let rw;
  let ro;
  const dialogs = [];
  const foreign = [];
  const scriptErrors = [];

  const tid = (id) => `[data-testid="${id}"]`;
  const shot = (name) => page.screenshot({ path: path.join(artifacts, name), fullPage: true });

  // Where the page is, and that it has not been reloaded since mark().
  async function mark() {
    await page.evaluate(() => { window.stillTheSamePage = true; });
  }
  async function notReloaded() {
    assert.equal(await page.evaluate(() => window.stillTheSamePage === true), true, 'the page was reloaded');
  }

  before(async () => {
    fs.mkdirSync(artifacts, { recursive: true });
    await require('../build').build();
    await dropObjects();

    await sql(`SELECT mq_create_queue('br_orders')`);
    await sql(`SELECT mq_create_queue('br_dlq')`);
    await sql(`SELECT mq_create_queue('br_work', dead_letter_queue => 'br_dlq', max_deliveries => 1)`);
    await sql(`SELECT mq_create_topic('br_events')`);
    await sql(`SELECT mq_subscribe('br_events', 'br_orders', 'order.*')`);
    await sql(`SELECT mq_create_stream('br_ledger', partitions => 2)`);
    await sql(`SELECT mq_create_group('br_ledger', 'br_readers')`);
    await sql(`SELECT mq_append('br_ledger', jsonb_build_object('n', g), key => 'account-' || g) FROM generate_series(1, 20) g`);
    // One call claims one partition: two calls read both to their end.
    await sql(`SELECT count(*) FROM mq_consume('br_ledger', 'br_readers', 100)`);
    await sql(`SELECT count(*) FROM mq_consume('br_ledger', 'br_readers', 100)`);

    await sql(`SELECT mq_publish('br_events', 'order.created', jsonb_build_object('order', g, 'item', 'book'),
      '{"source": "web"}') FROM generate_series(1001, 1003) g`);

    // A dead letter: br_work delivers at most once, so a nack sends it to br_dlq.
    await sql(`SELECT mq_send('br_work', '{"job": "charge", "amount": 42}')`);
    const m = await one(`SELECT receipt::text AS receipt FROM mq_read('br_work', 1, '30 seconds')`);
    assert.ok(m, 'br_work delivered its message');
    await sql(`SELECT mq_nack('br_work', $1::bigint, reason => 'card declined')`, [m.receipt]);
    assert.deepEqual(await queueFigures('br_dlq'), { depth: 1, ready: 1 }, 'br_dlq holds the dead letter');
    assert.deepEqual(await queueFigures('br_work'), { depth: 0, ready: 0 });

    rw = await startConsole();
    browser = await require('playwright-core').chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
    context = await browser.newContext({ viewport: { width: 1400, height: 900 }, timezoneId: 'UTC' });
    page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    page.on('dialog', async (d) => {
      dialogs.push(d.message());
      await d.accept();
    });
    page.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith('http://127.0.0.1:') && !u.startsWith('data:')) foreign.push(u);
    });
    page.on('pageerror', (e) => scriptErrors.push(e.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) scriptErrors.push(msg.text());
    });
  });

  after(async () => {
    if (browser) await browser.close();
    if (rw) await rw.close();
    if (ro) await ro.close();
    await dropObjects();
  });

  it('lists the queues, the topic and the stream on the overview, problems first', async () => {
    await page.goto(`${rw.base}/#/`);
    for (const row of ['queue-row-br_orders', 'queue-row-br_work', 'queue-row-br_dlq', 'topic-row-br_events', 'stream-row-br_ledger']) {
      await page.locator(tid(row)).waitFor();
    }
    const orders = page.locator(tid('queue-row-br_orders'));
    assert.equal(await orders.locator(tid('depth')).textContent(), '3');
    assert.equal(await orders.locator(tid('ready')).textContent(), '3');
    assert.match(await page.locator(`${tid('queue-row-br_work')} ${tid('dead-letter')}`).textContent(), /br_dlq\s*1/);
    assert.match(await page.locator(`${tid('topic-row-br_events')} ${tid('subscriptions')}`).textContent(), /br_orders ← order\.\*/);
    const ledger = page.locator(tid('stream-row-br_ledger'));
    assert.equal(await ledger.locator(tid('partitions')).textContent(), '2');
    assert.equal(await ledger.locator(tid('records')).textContent(), '20');
    assert.match(await ledger.locator(tid('groups')).textContent(), /br_readers\s*0/);

    // The dead letter is a problem: in the summary and on its row.
    const dlq = page.locator(tid('queue-row-br_dlq'));
    assert.match(await dlq.getAttribute('class'), /problem/);
    assert.match(await dlq.locator(tid('problems')).textContent(), /1 dead letter/);
    const summary = await page.locator(tid('problems-summary')).textContent();
    assert.match(summary, /br_dlq: 1 dead letter/);
    assert.match(summary, /br_work: dead-letter queue br_dlq holds 1/);
    assert.equal(await page.locator(tid('read-only-badge')).isVisible(), false);
    assert.match(await page.locator(tid('session-version')).textContent(), /^queue \S+ · PostgreSQL \S+/);
    await shot('overview.png');
  });

  it('lists the objects of the worked example (scripts/demo.sql) with their figures', async (t) => {
    const demo = await sql(`SELECT queue, depth::int FROM mq_queues WHERE queue LIKE 'demo\\_%' ORDER BY queue`);
    if (demo.length === 0) {
      t.skip('the database has no demo objects (test/t/077_console.pl runs scripts/demo.sql first)');
      return;
    }
    await page.goto(`${rw.base}/#/`);
    for (const q of demo) {
      const row = page.locator(tid(`queue-row-${q.queue}`));
      await row.waitFor();
      assert.equal(await row.locator(tid('depth')).textContent(), String(q.depth), q.queue);
    }
    assert.ok(demo.some((q) => q.queue === 'demo_orders'));
    await page.locator(tid('topic-row-demo_events')).waitFor();
    assert.match(await page.locator(`${tid('topic-row-demo_events')} ${tid('subscriptions')}`).textContent(),
      /demo_payments ← order\.created/);
    const ledger = page.locator(tid('stream-row-demo_ledger'));
    await ledger.waitFor();
    assert.equal(await ledger.locator(tid('partitions')).textContent(), '3');
  });

  it('shows a message sent after the page loaded, without a reload', async () => {
    await page.goto(`${rw.base}/#/`);
    const depth = page.locator(`${tid('queue-row-br_orders')} ${tid('depth')}`);
    await until(async () => (await depth.textContent()) === '3', WAIT, 'depth 3 on the overview');
    await mark();
    await sql(`SELECT mq_send('br_orders', '{"order": 1004, "item": "lamp"}')`);
    await until(async () => (await depth.textContent()) === '4', WAIT, 'depth 4 on the overview');

    await page.locator(`${tid('queue-row-br_orders')} a`).first().click();
    await page.waitForFunction(() => location.hash === '#/queue/br_orders');
    const ids = (await sql(`SELECT id::text FROM mq_inspect('br_orders')`)).map((r) => r.id);
    assert.equal(ids.length, 4);
    for (const id of ids) await page.locator(tid(`message-row-${id}`)).waitFor();
    assert.equal(await page.locator(tid('fig-depth')).locator('.fig-value').textContent(), '4');

    const { id } = await one(`SELECT mq_send('br_orders', '{"order": 1005, "item": "desk"}', '{"source": "shop"}', priority => 3)::text AS id`);
    const row = page.locator(tid(`message-row-${id}`));
    await row.waitFor();
    assert.equal(await row.locator(tid('priority')).textContent(), '3');
    assert.equal(await row.locator(tid('state')).textContent(), 'ready');
    await notReloaded();

    // A click shows the body and headers, as JSON.
    await row.locator(tid('id')).click();
    const detail = page.locator(tid(`message-detail-${id}`));
    await detail.waitFor();
    assert.deepEqual(JSON.parse(await detail.locator(tid('message-body')).textContent()), { order: 1005, item: 'desk' });
    assert.deepEqual(JSON.parse(await detail.locator(tid('message-headers')).textContent()), { source: 'shop' });
    await shot('queue.png');
  });

  it('sends a message from the form, and refuses a body that is not JSON without a request', async () => {
    await page.goto(`${rw.base}/#/queue/br_orders`);
    await page.locator(tid('send')).locator('summary').click();
    const posts = [];
    const onRequest = (r) => { if (r.method() === 'POST') posts.push(r.url()); };
    page.on('request', onRequest);
    try {
      await page.fill(tid('send-body'), '{"order": 1006,');
      await page.click(tid('action-send'));
      await until(async () => /not valid JSON/.test(await page.locator(tid('send-error')).textContent()), WAIT, 'the JSON error');
      assert.deepEqual(posts, []);
      await page.fill(tid('send-body'), '{"order": 1006, "item": "chair"}');
      await page.fill(tid('send-headers'), '{"source": "console"}');
      await page.click(tid('action-send'));
      await until(async () => /^Sent message \d+$/.test(await page.locator(tid('result')).textContent()), WAIT, 'sent');
      assert.equal(posts.length, 1);
    } finally {
      page.off('request', onRequest);
    }
    const id = (await page.locator(tid('result')).textContent()).match(/\d+$/)[0];
    const m = await one(`SELECT body, headers FROM mq_inspect('br_orders') WHERE id = $1::bigint`, [id]);
    assert.deepEqual(m, { body: { order: 1006, item: 'chair' }, headers: { source: 'console' } });
    await page.locator(tid(`message-row-${id}`)).waitFor();
  });

  it('redrives a dead letter with a click', async () => {
    const { id } = await one(`SELECT id::text FROM mq_inspect('br_dlq')`);
    await page.goto(`${rw.base}/#/queue/br_dlq`);
    const row = page.locator(tid(`message-row-${id}`));
    await row.waitFor();
    assert.match(await row.locator(tid('dead-letter')).textContent(), /^br_work: max_deliveries/);
    assert.equal(await row.locator(tid('last-error')).textContent(), 'card declined');
    await page.locator(tid('redrive-controls')).waitFor();
    assert.equal(await page.locator(tid('redrive-source')).inputValue(), 'br_work');
    await row.locator(tid('id')).click();
    await page.locator(tid(`message-detail-${id}`)).waitFor();
    assert.equal(JSON.parse(await page.locator(tid('message-dead-letter')).textContent()).queue, 'br_work');
    await shot('dead-letters.png');

    await row.locator(tid('message-select')).check();
    assert.equal(await page.locator(tid('selection-count')).textContent(), '1 selected');
    const before = dialogs.length;
    await page.click(tid('action-redrive-selected'));
    await until(async () => (await page.locator(tid('result')).textContent()) === 'Redriven 1 message', WAIT, 'the redrive');
    assert.deepEqual(dialogs.slice(before), ['Redrive 1 message from br_dlq to the queues they came from?']);

    assert.deepEqual(await queueFigures('br_work'), { depth: 1, ready: 1 });
    assert.deepEqual(await queueFigures('br_dlq'), { depth: 0, ready: 0 });
    await page.locator(tid(`message-row-${id}`)).waitFor({ state: 'detached' });
    assert.match(await page.locator(tid('messages-table')).textContent(), /This queue is empty/);
  });

  it('redrives the letters of one source queue, then all, saying how many', async () => {
    // Three letters from br_work, one from br_orders (moved in by hand, as a letter would be).
    for (let i = 0; i < 3; i++) {
      await sql(`SELECT mq_send('br_work', jsonb_build_object('job', 'refund', 'n', $1::int))`, [i]);
      const { receipt } = await one(`SELECT receipt FROM mq_read('br_work', 1, filter => '{"job": "refund"}')`);
      await sql(`SELECT mq_nack('br_work', $1, reason => 'gateway down')`, [receipt]);
    }
    assert.equal((await queueFigures('br_dlq')).ready, 3);
    await page.goto(`${rw.base}/#/queue/br_dlq`);
    await page.locator(tid('redrive-controls')).waitFor();
    await until(async () => (await page.locator(tid('redrive-source')).inputValue()) === 'br_work', WAIT, 'the source queue');
    let before = dialogs.length;
    await page.click(tid('action-redrive-source'));
    await until(async () => (await page.locator(tid('result')).textContent()) === 'Redriven 3 messages to br_work', WAIT, 'the redrive');
    assert.deepEqual(dialogs.slice(before), ['Redrive 3 ready messages dead-lettered from br_work in br_dlq back to br_work?']);
    assert.equal((await queueFigures('br_dlq')).depth, 0);

    const { receipt } = await one(`SELECT receipt FROM mq_read('br_work', 1, filter => '{"job": "refund"}')`);
    await sql(`SELECT mq_nack('br_work', $1, reason => 'gateway down')`, [receipt]);
    await page.reload();
    await page.locator(tid('action-redrive-all')).waitFor();
    before = dialogs.length;
    await page.click(tid('action-redrive-all'));
    await until(async () => (await page.locator(tid('result')).textContent()) === 'Redriven 1 message', WAIT, 'the redrive of all');
    assert.deepEqual(dialogs.slice(before), ['Redrive all 1 ready message of br_dlq to the queues they came from?']);
    assert.equal((await queueFigures('br_dlq')).depth, 0);
    await sql(`SELECT mq_delete('br_work', array_agg(id)) FROM mq_inspect('br_work') WHERE body->>'job' = 'refund'`);
  });

  it('deletes a message with a click', async () => {
    await page.goto(`${rw.base}/#/queue/br_orders`);
    const { depth } = await queueFigures('br_orders');
    const { id } = await one(`SELECT min(id)::text AS id FROM mq_inspect('br_orders')`);
    const row = page.locator(tid(`message-row-${id}`));
    await row.locator(tid('message-select')).check();
    const before = dialogs.length;
    await page.click(tid('action-delete'));
    await until(async () => (await page.locator(tid('result')).textContent()) === 'Deleted 1 message', WAIT, 'the delete');
    assert.deepEqual(dialogs.slice(before), ['Delete 1 message from br_orders?']);
    assert.equal((await sql(`SELECT id FROM mq_inspect('br_orders') WHERE id = $1::bigint`, [id])).length, 0);
    assert.equal((await queueFigures('br_orders')).depth, depth - 1);
    await row.waitFor({ state: 'detached' });
  });

  it('seeks a consumer group from the stream page', async () => {
    const position = async (p) => Number((await one(`SELECT "position" FROM mq_groups
      WHERE stream = 'br_ledger' AND consumer_group = 'br_readers' AND partition = $1`, [p])).position);
    const p1 = await one(`SELECT next_position::int AS n FROM mq_streams WHERE stream = 'br_ledger' AND partition = 1`);
    assert.ok(p1.n >= 2, 'partition 1 holds two records or more');
    assert.equal(await position(1), p1.n, 'the group has read partition 1 to its end');

    await page.goto(`${rw.base}/#/stream/br_ledger`);
    const group = page.locator(tid('group-br_readers'));
    await group.waitFor();
    await page.locator(tid('partition-row-1')).waitFor();
    assert.equal(await page.locator(`${tid('partition-row-1')} ${tid('next-position')}`).textContent(), String(p1.n));
    await group.locator(tid('seek-partition')).selectOption('1');
    await group.locator(tid('seek-position')).fill('1');
    let before = dialogs.length;
    await group.locator(tid('action-seek')).click();
    await until(async () => /now reads partition 1 from position 1/.test(await group.locator(tid('seek-result')).textContent()), WAIT, 'the seek');
    assert.deepEqual(dialogs.slice(before), ['Seek group br_readers of stream br_ledger to position 1 of partition 1?']);
    assert.equal(await position(1), 1);
    const lagCell = group.locator(`${tid('group-partition-1')} ${tid('lag')}`);
    await until(async () => (await lagCell.textContent()) === String(p1.n - 1), WAIT, 'the lag of partition 1 on the page');

    // By time: before every record, so every partition goes back to its start.
    await group.locator(tid('seek-time')).fill('2000-01-01T00:00:00');
    before = dialogs.length;
    await group.locator(tid('action-seek-time')).click();
    await until(async () => /now reads from 2000-01-01T/.test(await group.locator(tid('seek-result')).textContent()), WAIT, 'the seek by time');
    assert.deepEqual(dialogs.slice(before), ['Seek group br_readers of stream br_ledger to 2000-01-01T00:00:00.000Z?']);
    assert.equal(await position(0), 0);
    assert.equal(await position(1), 0);
    await until(async () => (await group.locator(tid('group-lag')).textContent()) === '20', WAIT, 'the total lag on the page');
    await shot('stream.png');
  });

  it('shows the server\'s error for a queue that does not exist', async () => {
    await page.goto(`${rw.base}/#/queue/br_nothing`);
    const banner = page.locator(tid('error-banner'));
    await banner.waitFor();
    assert.match(await banner.textContent(), /queue "br_nothing" does not exist/);
    await page.goto(`${rw.base}/#/`);
    await page.locator(tid('queue-row-br_orders')).waitFor();
    await banner.waitFor({ state: 'hidden' });
  });

  it('shows no action in a read-only console', async () => {
    ro = await startConsole({ readOnly: true });
    const roPage = await context.newPage();
    roPage.setDefaultTimeout(WAIT);
    try {
      await roPage.goto(`${ro.base}/#/`);
      await roPage.locator(tid('queue-row-br_orders')).waitFor();
      assert.equal(await roPage.locator(tid('read-only-badge')).isVisible(), true);
      for (const where of ['#/queue/br_orders', '#/queue/br_work', '#/stream/br_ledger']) {
        await roPage.goto(`${ro.base}/${where}`);
        if (where.startsWith('#/queue')) await roPage.locator(`${tid('messages-table')} tr.msg`).first().waitFor();
        else await roPage.locator(tid('group-br_readers')).waitFor();
        const actions = await roPage.locator('[data-testid^="action-"], [data-testid="message-select"], [data-testid="select-all"], '
          + '[data-testid="send"], [data-testid="seek-form"], [data-testid="move-target"], [data-testid="redrive-source"]').count();
        assert.equal(actions, 0, `no action on ${where}`);
        assert.equal(await roPage.locator('main button:not([data-testid^="filter-"]):not([data-testid^="page-"])').count(), 0,
          `no button but the filter and paging on ${where}`);
      }
    } finally {
      await roPage.close();
    }
  });

  it('loaded nothing from elsewhere, and raised no script error', () => {
    assert.deepEqual(foreign, []);
    assert.deepEqual(scriptErrors, []);
  });
});
