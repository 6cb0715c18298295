'use strict';
// One producer or consumer of one run, in a process of its own (started by
// bench.js with fork).  Its configuration is the JSON of argv[2]:
//   { system, kind, variant, role, queue, rate, pg, amqp, nats }
// role: send1 | send100 | consume | latency-producer | latency-consumer.
// It connects, says {type: 'ready'}, waits for {type: 'go', start, until},
// works, and says {type: 'done', count, cpuUs, lastAt, drained, samples}
// with the CPU it used from go to done (process.cpuUsage()), then keeps its
// connection until {type: 'exit'}.  A latency consumer also waits for
// {type: 'expect', count}: it is done when it has received that many.

const { now, body } = require('./common');

const cfg = JSON.parse(process.argv[2]);
const mod = require(`./systems/${cfg.system}`);

let client = null;
let stopped = false;
let cpu0 = null;
let expected = Infinity;
const samples = [];
const finishHooks = [];
let reported = false;
let release;
const released = new Promise((resolve) => {
	release = resolve;
});

function send(msg) {
	return new Promise((resolve) => process.send(msg, () => resolve()));
}

async function fail(err) {
	await send({ type: 'error', message: String((err && err.stack) || err) }).catch(() => {});
	process.exit(1);
}

async function report(result) {
	if (reported) return;
	reported = true;
	const cpu = process.cpuUsage(cpu0);
	await send({ type: 'done', cpuUs: cpu.user + cpu.system, ...result });
	// Stay connected until the orchestrator has measured the server.
	await released;
	if (client) await Promise.race([mod.close(client), new Promise((r) => setTimeout(r, 2000))]);
	process.exit(0);
}

const decoder = new TextDecoder();
function parse(data) {
	return JSON.parse(typeof data === 'string' ? data : decoder.decode(data));
}

// A latency consumer has received the messages it was told to expect.
function finished() {
	return samples.length >= expected;
}

function checkFinished() {
	if (!finished()) return;
	for (const f of finishHooks.splice(0)) f();
	report({ count: samples.length, samples });
}

// Open loop: send i is due at start + i / rate whether or not earlier
// sends have been acknowledged; each body carries the time of its call.
function pace(ctx) {
	return new Promise((resolve, reject) => {
		const interval = 1000 / cfg.rate;
		let i = 0;
		let inflight = 0;
		let acked = 0;
		let ended = false;
		const tick = () => {
			let t = now();
			while (ctx.start + i * interval <= t && t < ctx.until) {
				const ts = now();
				inflight++;
				mod.sendOne(client, ctx, body(ts, i)).then(() => {
					inflight--;
					acked++;
					if (ended && inflight === 0) resolve({ count: i, acked });
				}, reject);
				i++;
				t = now();
			}
			if (t >= ctx.until) {
				ended = true;
				if (inflight === 0) resolve({ count: i, acked });
				return;
			}
			setTimeout(tick, Math.max(0, ctx.start + i * interval - now()));
		};
		tick();
	});
}

async function go(m) {
	cpu0 = process.cpuUsage();
	const ctx = {
		queue: cfg.queue,
		variant: cfg.variant,
		start: m.start,
		until: m.until,
		running: () => !stopped && now() < m.until,
		parse,
		received(data, t) {
			samples.push(t - parse(data).ts);
			if (finished()) setImmediate(checkFinished);
		},
		finished,
		onFinish(f) {
			finishHooks.push(f);
		},
	};
	// Wait for the common start.
	if (m.start > now()) await new Promise((r) => setTimeout(r, m.start - now()));
	switch (cfg.role) {
		case 'send1':
		case 'send100':
		case 'consume':
			return report(await mod[cfg.role](client, ctx));
		case 'latency-producer':
			return report(await pace(ctx));
		case 'latency-consumer':
			await mod.latencyConsume(client, ctx);
			return checkFinished();
		default:
			throw new Error(`unknown role ${cfg.role}`);
	}
}

process.on('message', (m) => {
	if (m.type === 'go') go(m).catch(fail);
	else if (m.type === 'stop') {
		stopped = true;
		if (cfg.role === 'latency-consumer') {
			expected = Math.min(expected, samples.length);
			checkFinished();
		}
	}
	else if (m.type === 'exit') release();
	else if (m.type === 'expect') {
		expected = m.count;
		checkFinished();
	}
});
process.on('disconnect', () => process.exit(2));

(async () => {
	client = await mod.connect({ ...cfg, kind: cfg.kind });
	await send({ type: 'ready' });
})().catch(fail);
