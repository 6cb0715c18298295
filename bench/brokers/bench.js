'use strict';
// make bench-brokers: queue against RabbitMQ (a classic and a quorum queue)
// and NATS JetStream, one Node.js client for all.  bench/brokers.sh starts
// the servers and runs this with their ports and pids in the environment;
// this runs every workload on every system, BROKERS_ROUNDS rounds with the
// systems' order rotated each round, writes one line per run to
// $BROKERS_DIR/results.tsv and prints the tables (report.js).
//
// Each producer and consumer is a process of its own (worker.js).  Per run:
// msg/s; the CPU of the server's processes per message (/proc, the whole
// process tree of the postmaster, of beam.smp, of nats-server); the CPU of
// the client processes per message (process.cpuUsage()); the server's
// fsync + fdatasync calls per second (perf stat on the tracepoints); for
// queue also PostgreSQL's own count of WAL syncs (pg_stat_wal.wal_sync).

const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const { fork } = require('node:child_process');
const { now, sleep, percentile } = require('./common');
const proc = require('./proc');
const report = require('./report');

const env = process.env;
const ROUNDS = Number(env.BROKERS_ROUNDS || 3);
const SECONDS = Number(env.BROKERS_SECONDS || 10);
const BACKLOG = Number(env.BROKERS_BACKLOG || 200000);
const DRAIN_SECONDS = Number(env.BROKERS_DRAIN_SECONDS || 60);
const RATE = Number(env.BROKERS_RATE || 500);
const DIR = env.BROKERS_DIR || path.join(__dirname, '..', '..', 'tmp', 'bench-brokers');
const SYSTEM_LIST = (env.BROKERS_SYSTEMS || 'queue rabbitmq-classic rabbitmq-quorum nats').split(/\s+/).filter(Boolean);
const WORKLOAD_LIST = (env.BROKERS_WORKLOADS || 'send1 send100 consume latency').split(/\s+/).filter(Boolean);
const QUEUE_VARIANTS = (env.BROKERS_QUEUE_VARIANTS || '1tx 2tx ackarg').split(/\s+/).filter(Boolean);

const CONN = {
	pg: { host: '127.0.0.1', port: Number(env.BROKERS_PG_PORT || 55438), user: 'postgres', database: 'bench' },
	amqp: `amqp://guest:guest@127.0.0.1:${env.BROKERS_AMQP_PORT || 55672}`,
	nats: `127.0.0.1:${env.BROKERS_NATS_PORT || 55422}`,
};

const SYSTEMS = {
	queue: { module: 'queue', queue: 'bench', pid: env.BROKERS_PG_PID },
	'rabbitmq-classic': { module: 'rabbitmq', kind: 'classic', queue: 'bench-classic', pid: env.BROKERS_RABBITMQ_PID },
	'rabbitmq-quorum': { module: 'rabbitmq', kind: 'quorum', queue: 'bench-quorum', pid: env.BROKERS_RABBITMQ_PID },
	nats: { module: 'nats', queue: 'BENCH', pid: env.BROKERS_NATS_PID },
};

const WORKLOADS = {
	send1: { mode: 'window', roles: [['send1', 8]] },
	send100: { mode: 'window', roles: [['send100', 2]] },
	consume: { mode: 'drain', roles: [['consume', 4]] },
	latency: { mode: 'latency', roles: [['latency-producer', 1], ['latency-consumer', 1]] },
};

for (const s of SYSTEM_LIST) if (!SYSTEMS[s]) throw new Error(`unknown system ${s}`);
for (const w of WORKLOAD_LIST) if (!WORKLOADS[w]) throw new Error(`unknown workload ${w}`);

// The runs of a workload: one per system, and for consume one per queue variant.
function contenders(workload) {
	const list = [];
	for (const system of SYSTEM_LIST) {
		if (workload === 'consume' && system === 'queue') {
			for (const v of QUEUE_VARIANTS) list.push({ system, variant: v });
		} else {
			list.push({ system, variant: '-' });
		}
	}
	return list;
}

const RESULTS = path.join(DIR, 'results.tsv');
const COLUMNS = ['round', 'workload', 'system', 'variant', 'messages', 'seconds', 'msg_s', 'server_us_msg',
	'client_us_msg', 'fsyncs', 'fsync_s', 'walsync_s', 'p50_ms', 'p99_ms', 'drained', 'at'];

let live = [];	// the worker processes of the run under way
let perfStop = null;

function startWorker(sys, contender, role) {
	const cfg = {
		system: sys.module,
		kind: sys.kind,
		variant: contender.variant,
		role,
		queue: sys.queue,
		rate: RATE,
		pg: CONN.pg,
		amqp: CONN.amqp,
		nats: CONN.nats,
	};
	const child = fork(path.join(__dirname, 'worker.js'), [JSON.stringify(cfg)],
		{ stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
	const w = { child, role, result: null, ready: deferred(), done: deferred() };
	const fail = (e) => {
		w.ready.reject(e);
		w.done.reject(e);
	};
	child.on('message', (m) => {
		if (m.type === 'ready') w.ready.resolve();
		else if (m.type === 'done') {
			w.result = m;
			w.done.resolve(m);
		} else if (m.type === 'error') fail(new Error(`${role}: ${m.message}`));
	});
	child.on('exit', (code) => fail(new Error(`${role} exited with ${code} before it was done`)));
	live.push(w);
	return w;
}

// A promise with its resolve and reject (settling it twice does nothing).
function deferred() {
	let resolve;
	let reject;
	const p = new Promise((a, b) => {
		resolve = a;
		reject = b;
	});
	p.catch(() => {});
	return { p, resolve, reject };
}

function killWorkers() {
	for (const w of live) {
		if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
	}
	live = [];
}

function within(promise, ms, what) {
	let timer;
	return Promise.race([
		promise,
		new Promise((_, reject) => {
			timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
		}),
	]).finally(() => clearTimeout(timer));
}

const fmt = (v, d = 0) => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(d));

async function runOne(round, workload, contender, admins, perfOk) {
	const sys = SYSTEMS[contender.system];
	const adm = admins[contender.system];
	const wl = WORKLOADS[workload];
	const label = contender.variant === '-' ? contender.system : `${contender.system} ${contender.variant}`;
	const at = new Date().toISOString();

	// A fresh queue (stream); the backlog of a consume run, untimed.
	await adm.reset(sys.queue);
	if (wl.mode === 'drain') {
		await adm.fill(sys.queue, BACKLOG);
		const depth = await adm.depth(sys.queue);
		if (depth !== BACKLOG) throw new Error(`${label}: the backlog is ${depth}, not ${BACKLOG}`);
	}
	await adm.settle();
	await sleep(1000);

	const workers = [];
	for (const [role, n] of wl.roles) for (let i = 0; i < n; i++) workers.push(startWorker(sys, contender, role));
	await within(Promise.all(workers.map((w) => w.ready.p)), 60000, `${label} workers`);

	const roots = [Number(sys.pid)];
	const perf = await proc.countFsyncs(proc.tree(roots).pids, perfOk);
	perfStop = perf.stop;
	const wal0 = adm.walSyncs ? await adm.walSyncs() : null;
	const cpu0 = proc.tree(roots).us;
	const t0 = now() + 20;
	const until = t0 + 1000 * (wl.mode === 'drain' ? DRAIN_SECONDS : SECONDS);
	for (const w of workers) w.child.send({ type: 'go', start: t0, until });

	let cpu1;
	let tEnd;
	let fsyncs;
	if (wl.mode === 'drain') {
		await within(Promise.all(workers.map((w) => w.done.p)), until - now() + 60000, `${label} consumers`);
		cpu1 = proc.tree(roots).us;
		tEnd = now();
		fsyncs = await perf.stop();
	} else {
		await sleep(until - now());
		cpu1 = proc.tree(roots).us;
		tEnd = now();
		fsyncs = await perf.stop();
		const producers = workers.filter((w) => w.role !== 'latency-consumer');
		await within(Promise.all(producers.map((w) => w.done.p)), 60000, `${label} producers`);
		if (wl.mode === 'latency') {
			const consumer = workers.find((w) => w.role === 'latency-consumer');
			consumer.child.send({ type: 'expect', count: producers[0].result.count });
			const late = setTimeout(() => consumer.child.send({ type: 'stop' }), 30000);
			await within(consumer.done.p, 60000, `${label} consumer`);
			clearTimeout(late);
		}
	}
	perfStop = null;
	// Only now may the clients disconnect: a server process that ends (a
	// backend) while /proc is read could be counted neither as itself nor
	// in its parent's cutime.
	for (const w of workers) if (w.child.connected) w.child.send({ type: 'exit' });
	await Promise.all(workers.map((w) => new Promise((r) => (w.child.exitCode !== null ? r() : w.child.on('exit', r)))));
	live = [];
	let wal1 = null;
	if (adm.walSyncs) {
		await sleep(300);	// the backends' statistics reach pg_stat_wal as they exit
		wal1 = await adm.walSyncs();
	}

	const window = (tEnd - t0) / 1000;
	const results = workers.map((w) => w.result);
	if (env.BROKERS_DEBUG) {
		for (const r of results) {
			console.log(`    ${JSON.stringify({ ...r, samples: undefined, lastAt: r.lastAt && (r.lastAt - t0) / 1000 })}`);
		}
	}
	const clientUs = results.reduce((s, r) => s + r.cpuUs, 0);
	let messages;
	let seconds;
	let p50 = null;
	let p99 = null;
	let drained = '-';
	if (wl.mode === 'drain') {
		messages = results.reduce((s, r) => s + r.count, 0);
		const last = Math.max(...results.map((r) => r.lastAt || t0));
		seconds = (last - t0) / 1000;
		const left = await adm.depth(sys.queue);
		drained = results.every((r) => r.drained) && left === 0 ? 'yes' : `no (${left} left)`;
	} else if (wl.mode === 'latency') {
		const consumer = results[workers.findIndex((w) => w.role === 'latency-consumer')];
		const sorted = Float64Array.from(consumer.samples).sort();
		messages = consumer.count;
		seconds = SECONDS;
		p50 = percentile(sorted, 50);
		p99 = percentile(sorted, 99);
		const sent = results[workers.findIndex((w) => w.role === 'latency-producer')].count;
		if (messages !== sent) console.error(`  note: ${label} latency: ${messages} of ${sent} messages received`);
	} else {
		messages = results.reduce((s, r) => s + r.count, 0);
		seconds = SECONDS;
	}
	await adm.reset(sys.queue);	// leave nothing behind for the next system's run
	if (!(messages > 0 && seconds > 0)) throw new Error(`${label}: no message moved`);

	const row = {
		round,
		workload,
		system: contender.system,
		variant: contender.variant,
		messages,
		seconds: seconds.toFixed(3),
		msg_s: (messages / seconds).toFixed(1),
		server_us_msg: ((cpu1 - cpu0) / messages).toFixed(2),
		client_us_msg: (clientUs / messages).toFixed(2),
		fsyncs: fsyncs === null ? 'n/a' : fsyncs,
		fsync_s: fsyncs === null ? 'n/a' : (fsyncs / window).toFixed(1),
		walsync_s: wal0 === null ? '-' : ((wal1 - wal0) / window).toFixed(1),
		p50_ms: p50 === null ? '-' : p50.toFixed(3),
		p99_ms: p99 === null ? '-' : p99.toFixed(3),
		drained,
		at,
	};
	fs.appendFileSync(RESULTS, `${COLUMNS.map((c) => row[c]).join('\t')}\n`);
	let line = `  ${String(round).padStart(2)} ${workload.padEnd(8)} ${label.padEnd(20)} ` +
		`${fmt(messages / seconds).padStart(8)} msg/s  server ${fmt((cpu1 - cpu0) / messages, 1)} µs/msg  ` +
		`client ${fmt(clientUs / messages, 1)} µs/msg  ${fsyncs === null ? 'n/a' : fmt(fsyncs / window)} fsyncs/s`;
	if (wal0 !== null) line += ` (WAL syncs ${fmt((wal1 - wal0) / window)}/s)`;
	if (p50 !== null) line += `  p50 ${fmt(p50, 2)} ms  p99 ${fmt(p99, 2)} ms`;
	if (wl.mode === 'drain') line += `  ${messages} in ${fmt(seconds, 2)} s, drained ${drained}`;
	console.log(line);
}

async function main() {
	fs.mkdirSync(DIR, { recursive: true });
	fs.writeFileSync(RESULTS, `# ${COLUMNS.join('\t')}\n`);
	const perfOk = proc.perfWorks();
	if (!perfOk) console.log('perf is missing or cannot count syscall tracepoints: fsyncs are n/a');

	const admins = {};
	for (const s of SYSTEM_LIST) {
		const sys = SYSTEMS[s];
		admins[s] = await require(`./systems/${sys.module}`).admin({ ...CONN, kind: sys.kind });
	}
	const versions = { node: process.version };
	for (const lib of ['pg', 'amqplib', 'nats']) {
		const pkg = path.join(__dirname, 'node_modules', lib, 'package.json');
		versions[`node ${lib}`] = JSON.parse(fs.readFileSync(pkg, 'utf8')).version;
	}
	for (const s of SYSTEM_LIST) Object.assign(versions, await admins[s].versions());
	const meta = {
		started: new Date().toISOString(),
		cores: os.cpus().length,
		load_start: os.loadavg().map((x) => x.toFixed(2)).join(' '),
		rounds: ROUNDS,
		seconds: SECONDS,
		backlog: BACKLOG,
		drain_seconds: DRAIN_SECONDS,
		rate: RATE,
		perf: perfOk,
		versions,
	};
	console.log(`versions: ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);

	// What each server is, and what it costs doing nothing (5 s, connected
	// to but idle): the CPU of a run includes that much per second.
	const servers = {};
	for (const s of SYSTEM_LIST) {
		const server = SYSTEMS[s].module === 'queue' ? 'postgresql' : SYSTEMS[s].module;
		servers[server] = Number(SYSTEMS[s].pid);
	}
	const idle0 = Object.fromEntries(Object.entries(servers).map(([k, pid]) => [k, proc.tree([pid]).us]));
	const i0 = now();
	await sleep(5000);
	meta.idle = {};
	for (const [k, pid] of Object.entries(servers)) {
		const t = proc.tree([pid]);
		const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
		meta.idle[k] = (100 * (t.us - idle0[k])) / ((now() - i0) * 1000);
		console.log(`${k}: ${comm} (pid ${pid}) and ${t.pids.length - 1} processes under it; idle, ` +
			`${meta.idle[k].toFixed(1)} % of a core`);
	}
	console.log(`${ROUNDS} rounds; windows of ${SECONDS} s; consume: a backlog of ${BACKLOG}, drained ` +
		`(at most ${DRAIN_SECONDS} s); latency at ${RATE} msg/s`);

	for (let round = 1; round <= ROUNDS; round++) {
		console.log(`round ${round} of ${ROUNDS}`);
		for (const workload of WORKLOAD_LIST) {
			const list = contenders(workload);
			// Rotate the order each round, so that no system always goes first.
			const k = (round - 1) % list.length;
			for (const c of [...list.slice(k), ...list.slice(0, k)]) {
				try {
					await runOne(round, workload, c, admins, perfOk);
				} catch (e) {
					console.error(`  ${round} ${workload} ${c.system} ${c.variant}: failed: ${e.message}`);
					killWorkers();
					if (perfStop) await perfStop().catch(() => {});
					perfStop = null;
				}
			}
		}
	}
	meta.finished = new Date().toISOString();
	meta.load_end = os.loadavg().map((x) => x.toFixed(2)).join(' ');
	fs.writeFileSync(path.join(DIR, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
	for (const s of SYSTEM_LIST) await admins[s].close();

	const md = report.markdown(report.read(RESULTS), meta);
	fs.writeFileSync(path.join(DIR, 'results.md'), md);
	console.log();
	console.log(md);
}

async function interrupted() {
	killWorkers();
	if (perfStop) await perfStop().catch(() => {});
	process.exit(130);
}
process.on('SIGINT', interrupted);
process.on('SIGTERM', interrupted);

main().catch((e) => {
	console.error(e.stack || String(e));
	killWorkers();
	process.exit(1);
});
