// The npm client pgmq-js, as its users call it, against the pgmq layer of
// the queue extension: every call it makes, with what pgmq returns checked.
// Prints "ok - <step>" for each step that passes; the first failure prints
// "not ok - <step>: <why>" and exits 1.  Connects with PGHOST (a socket
// directory), PGPORT, PGUSER and PGDATABASE.
'use strict';

const assert = require('node:assert/strict');
const pg = require('pg');
const { Pgmq } = require('pgmq-js');

const config = {
  host: process.env.PGHOST,
  port: Number(process.env.PGPORT),
  user: process.env.PGUSER,
  database: process.env.PGDATABASE,
  password: '',
  ssl: false,
};

let current = 'connect';
async function step(name, fn) {
  current = name;
  await fn();
  console.log(`ok - ${name}`);
}

async function main() {
  // Pgmq.new runs CREATE EXTENSION IF NOT EXISTS pgmq CASCADE.
  const pgmq = await Pgmq.new(config);
  const sql = new pg.Client(config);
  await sql.connect();
  const q = 'js_orders';
  const u = 'js_unlogged';
  const names = async () => (await pgmq.queue.list()).map((x) => x.name).sort();

  await step('CREATE EXTENSION IF NOT EXISTS pgmq CASCADE installs queue too', async () => {
    const { rows } = await sql.query(
      "SELECT string_agg(extname, ',' ORDER BY extname) AS e FROM pg_extension WHERE extname IN ('pgmq', 'queue')");
    assert.equal(rows[0].e, 'pgmq,queue');
  });

  await step('queue.create, and list shows the queue', async () => {
    await pgmq.queue.create(q);
    await pgmq.queue.create(q); // again: harmless
    const [queue] = (await pgmq.queue.list()).filter((x) => x.name === q);
    assert.ok(queue, 'listed');
    assert.equal(queue.isPartitioned, false);
    assert.equal(queue.isUnlogged, false);
  });

  await step('msg.send returns ids from 1', async () => {
    assert.equal(await pgmq.msg.send(q, { id: 1, name: 'first' }), 1);
  });

  await step('msg.send with a delay', async () => {
    assert.equal(await pgmq.msg.send(q, { id: 2 }, 3600), 2);
  });

  await step('msg.sendBatch', async () => {
    assert.deepEqual(await pgmq.msg.sendBatch(q, [{ id: 3 }, { id: 4 }]), [3, 4]);
  });

  await step('msg.sendBatch with a delay', async () => {
    assert.deepEqual(await pgmq.msg.sendBatch(q, [{ id: 5 }], 3600), [5]);
  });

  await step('msg.read leases the first visible message', async () => {
    const m = await pgmq.msg.read(q, 30);
    assert.equal(m.msgId, 1);
    assert.equal(m.readCount, 1);
    assert.deepEqual(m.message, { id: 1, name: 'first' });
    assert.ok(m.vt.getTime() > Date.now() + 20000, 'vt about 30 s ahead');
    assert.ok(m.enqueuedAt.getTime() <= Date.now() + 1000);
  });

  await step('msg.readBatch skips leased and delayed messages', async () => {
    const ms = await pgmq.msg.readBatch(q, 30, 10);
    assert.deepEqual(ms.map((m) => m.msgId), [3, 4]);
    assert.deepEqual(ms.map((m) => m.message), [{ id: 3 }, { id: 4 }]);
  });

  await step('msg.setVt makes a leased message visible again', async () => {
    const m = await pgmq.msg.setVt(q, 1, 0);
    assert.equal(m.msgId, 1);
    const again = await pgmq.msg.read(q, 30);
    assert.equal(again.msgId, 1);
    assert.equal(again.readCount, 2);
  });

  await step('msg.setVt of a message there is not', async () => {
    assert.equal(await pgmq.msg.setVt(q, 999, 0), undefined);
  });

  await step('msg.archive moves a message to the archive', async () => {
    assert.equal(await pgmq.msg.archive(q, 1), true);
    assert.equal(await pgmq.msg.archive(q, 1), false);
  });

  await step('msg.archiveBatch', async () => {
    assert.deepEqual(await pgmq.msg.archiveBatch(q, [3, 998]), [3]);
    const { rows } = await sql.query(`SELECT msg_id, read_ct, message FROM pgmq.a_${q} ORDER BY msg_id`);
    assert.deepEqual(rows.map((r) => [Number(r.msg_id), r.read_ct, r.message]),
      [[1, 2, { id: 1, name: 'first' }], [3, 1, { id: 3 }]]);
  });

  await step('msg.delete, one leased message', async () => {
    assert.equal(await pgmq.msg.delete(q, 4), true);
    assert.equal(await pgmq.msg.delete(q, 4), false);
  });

  await step('msg.deleteBatch, delayed messages included', async () => {
    assert.deepEqual(await pgmq.msg.deleteBatch(q, [2, 5, 997]), [2, 5]);
  });

  await step('msg.pop on an empty queue, then of a message', async () => {
    assert.equal(await pgmq.msg.pop(q), undefined);
    assert.equal(await pgmq.msg.send(q, { id: 6 }), 6);
    const m = await pgmq.msg.pop(q);
    assert.equal(m.msgId, 6);
    assert.deepEqual(m.message, { id: 6 });
    assert.equal(await pgmq.msg.pop(q), undefined);
  });

  await step('queue.getMetrics', async () => {
    await pgmq.msg.sendBatch(q, [{ id: 7 }, { id: 8 }]);
    const m = await pgmq.queue.getMetrics(q);
    assert.equal(m.queueName, q);
    assert.equal(m.queueLength, 2);
    assert.equal(m.totalMessages, 8);
    assert.ok(m.oldestMsgAgeSec >= m.newestMsgAgeSec && m.newestMsgAgeSec >= 0);
    assert.ok(m.scrapeTime instanceof Date && !isNaN(m.scrapeTime));
  });

  await step('queue.getAllMetrics', async () => {
    const all = await pgmq.queue.getAllMetrics();
    assert.deepEqual(all.filter((m) => m.queueName === q).map((m) => m.queueLength), [2]);
  });

  await step('queue.purge', async () => {
    await pgmq.queue.purge(q);
    assert.equal((await pgmq.queue.getMetrics(q)).queueLength, 0);
    assert.equal(await pgmq.msg.send(q, { id: 9 }), 9);
  });

  await step("the messages are queue's: mq_read and mq_queues see them", async () => {
    const { rows } = await sql.query(`SELECT depth FROM mq_queues WHERE queue = $1`, [q]);
    assert.equal(Number(rows[0].depth), 1);
    const read = await sql.query(`SELECT id, body FROM mq_read($1, 1, '1 minute')`, [q]);
    assert.deepEqual(read.rows.map((r) => [Number(r.id), r.body]), [[9, { id: 9 }]]);
  });

  await step('queue.createUnlogged, and a message through it', async () => {
    await pgmq.queue.createUnlogged(u);
    const [queue] = (await pgmq.queue.list()).filter((x) => x.name === u);
    assert.equal(queue.isUnlogged, true);
    const { rows } = await sql.query(`SELECT unlogged FROM mq_queues WHERE queue = $1`, [u]);
    assert.equal(rows[0].unlogged, true);
    assert.equal(await pgmq.msg.send(u, { u: 1 }), 1);
    assert.deepEqual((await pgmq.msg.read(u, 30)).message, { u: 1 });
  });

  await step('queue.detachArchive', async () => {
    await pgmq.queue.detachArchive(q);
    const { rows } = await sql.query(
      `SELECT count(*) AS n FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
        WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgmq')
          AND c.relname = $1`, [`a_${q}`]);
    assert.equal(Number(rows[0].n), 0);
  });

  await step('queue.drop', async () => {
    await pgmq.queue.drop(q);
    await pgmq.queue.drop(u);
    assert.deepEqual((await names()).filter((n) => n === q || n === u), []);
    const { rows } = await sql.query(
      `SELECT count(*) AS n FROM mq_queues WHERE queue IN ($1, $2)`, [q, u]);
    assert.equal(Number(rows[0].n), 0);
  });

  await sql.end();
  await pgmq.close();
}

main().catch((err) => {
  console.log(`not ok - ${current}: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
