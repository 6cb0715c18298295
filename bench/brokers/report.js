'use strict';
// The tables of make bench-brokers from its results.tsv: per workload and
// system the median over the rounds and the range (min–max) of each
// figure, then the ratios the project tracks, each the median of the
// per-round ratios (runs of the same round were made minutes apart).
//
//   node bench/brokers/report.js tmp/bench-brokers/results.tsv [meta.json]

const fs = require('node:fs');
const { median } = require('./common');

function read(file) {
	const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
	const cols = ['round', 'workload', 'system', 'variant', 'messages', 'seconds', 'msg_s', 'server_us_msg',
		'client_us_msg', 'fsyncs', 'fsync_s', 'walsync_s', 'p50_ms', 'p99_ms', 'drained', 'at'];
	return lines.map((l) => {
		const f = l.split('\t');
		const r = {};
		cols.forEach((c, i) => {
			r[c] = f[i];
		});
		return r;
	});
}

const num = (v) => (v === undefined || v === '-' || v === 'n/a' || v === '' ? null : Number(v));

// 12345.6 -> "12 346"
function group(v, d) {
	const s = v.toFixed(d);
	const [i, f] = s.split('.');
	const g = i.replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
	return f === undefined ? g : `${g}.${f}`;
}

// "median (min–max)" of a list, or the one value, or n/a.
function cell(values, d) {
	const xs = values.filter((x) => x !== null);
	if (xs.length === 0) return 'n/a';
	const m = median(xs);
	if (xs.length === 1) return group(m, d);
	return `${group(m, d)} (${group(Math.min(...xs), d)}–${group(Math.max(...xs), d)})`;
}

const TITLES = {
	send1: 'send1: durable send, 1 message per commit / confirm / PubAck, 8 producers',
	send100: 'send100: batched send, 100 messages per commit / confirm wait / PubAck wait, 2 producers',
	consume: 'consume: read + ack of a backlog, batches of 10, 4 consumers, until drained',
	latency: 'latency: end to end (send call to receipt), 1 producer at a fixed rate, 1 consumer',
};

const VARIANT_NAMES = {
	'1tx': 'queue consume-1tx (BEGIN; mq_read; mq_ack; COMMIT)',
	'2tx': 'queue consume-2tx (mq_read, then mq_ack, each in autocommit)',
	ackarg: 'queue consume-ackarg (mq_read(…, ack => the previous receipts))',
};

const SYSTEM_ORDER = ['queue', 'rabbitmq-classic', 'rabbitmq-quorum', 'nats'];

function key(r) {
	return r.variant === '-' ? r.system : `${r.system} ${r.variant}`;
}

function name(k) {
	const [system, variant] = k.split(' ');
	return variant ? VARIANT_NAMES[variant] || k : system;
}

function markdown(rows, meta) {
	const out = [];
	const workloads = ['send1', 'send100', 'consume', 'latency'].filter((w) => rows.some((r) => r.workload === w));
	if (meta) {
		out.push(`${meta.started.replace('T', ' ').slice(0, 16)} UTC, ${meta.cores} cores, ${meta.rounds} rounds ` +
			`(systems in a rotated order each round); windows of ${meta.seconds} s; consume drains a backlog of ` +
			`${meta.backlog} (at most ${meta.drain_seconds} s); latency at ${meta.rate} msg/s. Load average ` +
			`(1, 5, 15 min) at the start: ${meta.load_start}${meta.load_end ? `, at the end: ${meta.load_end}` : ''}.`);
		out.push('');
		out.push(`Versions: ${Object.entries(meta.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
		out.push('');
		if (meta.idle) {
			out.push(`Idle servers (connected to, nothing to do; 5 s before the first round), in % of a core: ` +
				`${Object.entries(meta.idle).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}.`);
			out.push('');
		}
	}
	out.push('Each cell: the median over the rounds (the lowest–highest in brackets).');
	out.push('');
	for (const w of workloads) {
		const mine = rows.filter((r) => r.workload === w);
		const keys = [...new Set(mine.map(key))].sort((a, b) => {
			const sa = SYSTEM_ORDER.indexOf(a.split(' ')[0]);
			const sb = SYSTEM_ORDER.indexOf(b.split(' ')[0]);
			return sa - sb || a.localeCompare(b);
		});
		out.push(`**${TITLES[w]}**`);
		out.push('');
		const lat = w === 'latency';
		out.push(`| system |${lat ? ' p50 ms | p99 ms |' : ''} msg/s | server CPU µs/msg | client CPU µs/msg | fsyncs/s |`);
		out.push(`|---|${lat ? '---:|---:|' : ''}---:|---:|---:|---:|`);
		for (const k of keys) {
			const rs = mine.filter((r) => key(r) === k);
			const col = (c) => rs.map((r) => num(r[c]));
			out.push(`| ${name(k)} |${lat ? ` ${cell(col('p50_ms'), 2)} | ${cell(col('p99_ms'), 2)} |` : ''}` +
				` ${cell(col('msg_s'), 0)} | ${cell(col('server_us_msg'), 1)} | ${cell(col('client_us_msg'), 1)} |` +
				` ${cell(col('fsync_s'), 0)} |`);
		}
		out.push('');
		const pg = mine.filter((r) => r.system === 'queue' && num(r.walsync_s) !== null);
		if (pg.length) {
			const parts = [...new Set(pg.map(key))].map((k) =>
				`${k === 'queue' ? 'queue' : k.replace('queue ', 'consume-')} ${cell(pg.filter((r) => key(r) === k).map((r) => num(r.walsync_s)), 0)}`);
			out.push(`PostgreSQL's own count of WAL syncs (pg_stat_wal.wal_sync) per second: ${parts.join(', ')}.`);
			out.push('');
		}
		const notDrained = mine.filter((r) => r.drained && r.drained !== '-' && r.drained !== 'yes');
		for (const r of notDrained) {
			out.push(`Round ${r.round}, ${name(key(r))}: not drained within the limit (${r.drained}); msg/s is over the time it ran.`);
		}
		if (notDrained.length) out.push('');
	}

	// Ratios: medians of per-round ratios.
	const per = (w, k, c) => {
		const m = new Map();
		for (const r of rows) if (r.workload === w && key(r) === k && num(r[c]) !== null) m.set(r.round, num(r[c]));
		return m;
	};
	const ratio = (w, a, b, c) => {
		const x = per(w, a, c);
		const y = per(w, b, c);
		const rs = [];
		for (const [round, v] of x) if (y.has(round) && y.get(round) > 0) rs.push(v / y.get(round));
		return rs;
	};
	const lines = [];
	const add = (label, rs) => {
		if (rs.length) lines.push(`| ${label} | ${median(rs).toFixed(2)} | ${rs.map((x) => x.toFixed(2)).join(', ')} |`);
	};
	for (const w of ['send1', 'send100']) {
		for (const b of ['rabbitmq-quorum', 'rabbitmq-classic', 'nats']) add(`${w}: queue / ${b}, msg/s`, ratio(w, 'queue', b, 'msg_s'));
	}
	for (const v of ['1tx', '2tx', 'ackarg']) {
		for (const b of ['rabbitmq-quorum', 'rabbitmq-classic', 'nats']) {
			add(`consume: queue consume-${v} / ${b}, msg/s`, ratio('consume', `queue ${v}`, b, 'msg_s'));
		}
	}
	for (const b of ['rabbitmq-quorum', 'rabbitmq-classic', 'nats']) {
		add(`latency: queue p99 / ${b} p99 (below 1: queue's is lower)`, ratio('latency', 'queue', b, 'p99_ms'));
	}
	if (lines.length) {
		out.push('**Ratios** (the median of the per-round ratios; above 1 means queue moved more messages per second)');
		out.push('');
		out.push('| ratio | median | per round |');
		out.push('|---|---:|---|');
		out.push(...lines);
		out.push('');
	}
	return out.join('\n');
}

module.exports = { read, markdown };

if (require.main === module) {
	const meta = process.argv[3] ? JSON.parse(fs.readFileSync(process.argv[3], 'utf8')) : null;
	console.log(markdown(read(process.argv[2]), meta));
}
