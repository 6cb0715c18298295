'use strict';
// queue: the extension on the benchmark's private PostgreSQL, through
// node-postgres over TCP (127.0.0.1), every statement prepared (a named
// query) and, unless said otherwise, in autocommit.

const pg = require('pg');
const { FIXED_BODY, now, sendLoop } = require('../common');

// jsonb comes back as its text, as the brokers' bodies come back as bytes:
// every consumer parses its bodies itself (worker.js), the same work for all.
pg.types.setTypeParser(3802, (v) => v);

const SQL = {
	send1: 'SELECT mq_send($1, $2::jsonb)',
	send100: 'SELECT mq_send_batch($1, $2::jsonb[])',
	read: 'SELECT id, receipt, body FROM mq_read($1, 10)',
	ack: 'SELECT mq_ack($1, $2::bigint[])',
	readAck: 'SELECT id, receipt, body FROM mq_read($1, 10, ack => $2::bigint[])',
	poll: "SELECT id, receipt, body FROM mq_read($1, 10, wait => '5 seconds')",
};

function q(name, values) {
	return { name, text: SQL[name], values };
}

// The latency producer's sends may overlap, as they do on one AMQP channel
// or one NATS connection: it has a pool of connections (each send still
// one statement and one commit).  Everyone else has one connection.
const LATENCY_CONNECTIONS = 8;

async function connect(cfg) {
	if (cfg.role === 'latency-producer') {
		const pool = new pg.Pool({ ...cfg.pg, max: LATENCY_CONNECTIONS });
		const clients = await Promise.all(Array.from({ length: LATENCY_CONNECTIONS }, () => pool.connect()));
		for (const c of clients) c.release();
		return pool;
	}
	const c = new pg.Client(cfg.pg);
	await c.connect();
	return c;
}

async function close(c) {
	await c.end().catch(() => {});
}

// Durable send, one message per statement (one commit each).
function send1(c, ctx) {
	return sendLoop(ctx, 1, () => c.query(q('send1', [ctx.queue, FIXED_BODY])));
}

const HUNDRED = Array(100).fill(FIXED_BODY);

// 100 messages per statement (one commit).
function send100(c, ctx) {
	return sendLoop(ctx, 100, () => c.query(q('send100', [ctx.queue, HUNDRED])));
}

// Read up to 10 and ack them, until a read finds nothing (the backlog is
// drained) or the window ends.  variant: 1tx (BEGIN; read; ack; COMMIT),
// 2tx (read, then ack, each in autocommit), ackarg (one statement per
// batch: the read acks the previous batch's receipts).
async function consume(c, ctx) {
	let count = 0;
	let lastAt = null;
	let drained = false;
	const variant = ctx.variant;
	if (variant === 'ackarg') {
		let prev = null;
		for (;;) {
			if (!ctx.running()) {
				if (prev) {
					await c.query(q('ack', [ctx.queue, prev]));
					count += prev.length;
					lastAt = now();
				}
				break;
			}
			const r = await c.query(q('readAck', [ctx.queue, prev]));
			if (prev) {
				count += prev.length;
				lastAt = now();
			}
			if (r.rows.length === 0) {
				drained = true;
				break;
			}
			for (const row of r.rows) ctx.parse(row.body);
			prev = r.rows.map((row) => row.receipt);
		}
		return { count, lastAt, drained };
	}
	const tx = variant === '1tx';
	while (ctx.running()) {
		if (tx) await c.query('BEGIN');
		const r = await c.query(q('read', [ctx.queue]));
		if (r.rows.length === 0) {
			if (tx) await c.query('COMMIT');
			drained = true;
			break;
		}
		for (const row of r.rows) ctx.parse(row.body);
		await c.query(q('ack', [ctx.queue, r.rows.map((row) => row.receipt)]));
		if (tx) await c.query('COMMIT');
		count += r.rows.length;
		lastAt = now();
	}
	return { count, lastAt, drained };
}

// One durable send of the latency producer (the caller paces them), on
// whichever connection of the pool is free.
function sendOne(pool, ctx, body) {
	return pool.query(q('send1', [ctx.queue, body]));
}

// The latency consumer: long polls of up to 10, each batch acked in a
// statement of its own.
async function latencyConsume(c, ctx) {
	while (!ctx.finished()) {
		const r = await c.query(q('poll', [ctx.queue]));
		if (r.rows.length === 0) continue;
		const t = now();
		for (const row of r.rows) ctx.received(row.body, t);
		await c.query(q('ack', [ctx.queue, r.rows.map((row) => row.receipt)]));
	}
}

// The orchestrator's side: a fresh queue before each run, the backlog of a
// consume run, the WAL counters, the versions.
async function admin(cfg) {
	const c = await connect(cfg);
	return {
		async reset(queue) {
			await c.query('SELECT mq_drop_queue($1, true)', [queue]);
			await c.query('SELECT mq_create_queue($1)', [queue]);
		},
		async fill(queue, n) {
			for (let left = n; left > 0; left -= 10000) {
				await c.query('SELECT count(*) FROM mq_send_batch($1, array_fill($2::jsonb, ARRAY[$3::int]))',
					[queue, FIXED_BODY, Math.min(left, 10000)]);
			}
		},
		// As bench/sql/settle.sql: hint bits, visibility map and statistics
		// in place, dirty buffers written, before every run.
		async settle() {
			await c.query('VACUUM (ANALYZE)');
			await c.query('CHECKPOINT');
		},
		async depth(queue) {
			const r = await c.query('SELECT depth FROM mq_queues WHERE queue = $1', [queue]);
			return r.rows.length ? Number(r.rows[0].depth) : null;
		},
		async walSyncs() {
			const r = await c.query('SELECT wal_sync, wal_write FROM pg_stat_wal');
			return Number(r.rows[0].wal_sync);
		},
		async versions() {
			const r = await c.query(`SELECT current_setting('server_version') AS pg, mq_version() AS mq`);
			return { postgresql: r.rows[0].pg, queue: r.rows[0].mq };
		},
		async close() {
			await close(c);
		},
	};
}

module.exports = { connect, close, send1, send100, consume, sendOne, latencyConsume, admin };
