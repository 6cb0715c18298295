'use strict';
// What the orchestrator (bench.js), the workers (worker.js) and the system
// modules share: the clock, the message body, small statistics.

const { performance } = require('node:perf_hooks');

// Milliseconds since the epoch, with sub-millisecond resolution; comparable
// across the processes of one machine (each process's timeOrigin is taken
// from the same wall clock).
function now() {
	return performance.timeOrigin + performance.now();
}

const BODY_BYTES = 1024;

// The body of every message: a JSON object of exactly BODY_BYTES bytes.
// ts is the send time in ms (a fixed-width number, so that every body has
// the same size); the send workloads use one body with ts 0 throughout.
function body(ts = 0, seq = 0) {
	const head = {
		ts: Number(ts.toFixed(3)),
		seq,
		order: 12345,
		customer: 'c-000042',
		sku: 'SKU-12345-XL',
		qty: 3,
		price: 19.99,
		note: '',
	};
	// Fixed widths: ts up to 17 characters, seq up to 10.
	let s = JSON.stringify(head);
	const fixed = s.length - String(head.ts).length - String(seq).length + 17 + 10;
	head.note = 'x'.repeat(BODY_BYTES - fixed);
	s = JSON.stringify(head);
	const pad = BODY_BYTES - s.length;
	if (pad > 0) {
		head.note += 'x'.repeat(pad);
		s = JSON.stringify(head);
	}
	return s;
}

// The same body for every message of a send workload.
const FIXED_BODY = body(0, 0);

function median(xs) {
	const a = xs.filter((x) => x !== null && x !== undefined && !Number.isNaN(x)).sort((p, q) => p - q);
	if (a.length === 0) return null;
	const m = a.length >> 1;
	return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}

// The p-th percentile (0 < p <= 100) by the nearest-rank method.
function percentile(sorted, p) {
	if (sorted.length === 0) return null;
	const rank = Math.ceil((p / 100) * sorted.length);
	return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

// A send workload's loop: send() until the window ends, counting the
// messages of the sends that completed within it.
async function sendLoop(ctx, perSend, send) {
	let count = 0;
	while (ctx.running()) {
		await send();
		if (now() <= ctx.until) count += perSend;
	}
	return { count };
}

function sleep(ms) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

module.exports = { now, body, FIXED_BODY, BODY_BYTES, median, percentile, sendLoop, sleep };
