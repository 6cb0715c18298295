'use strict';
// A server's processes and what they cost: the CPU of a process tree from
// /proc, and its fsync(2) and fdatasync(2) calls counted by perf.

const fs = require('node:fs');
const { spawn, spawnSync } = require('node:child_process');
const { sleep } = require('./common');

const TICK_US = 1e6 / Number(process.env.BROKERS_CLK_TCK || 100);

// Every process: pid -> { ppid, ticks }.  ticks is utime + stime + cutime +
// cstime: a process that exits is waited for by its parent, whose cutime
// and cstime then hold what it used, so the sum over a tree keeps counting
// the processes that ended (a PostgreSQL backend, say) as long as their
// parent is in the tree.
function processes() {
	const all = new Map();
	for (const d of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(d)) continue;
		let s;
		try {
			s = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
		} catch {
			continue;
		}
		const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
		// f[0] is field 3 (state): field n is f[n - 3].
		all.set(Number(d), {
			ppid: Number(f[1]),
			ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]),
		});
	}
	return all;
}

// The pids of the trees under roots (the roots included) and their CPU in µs.
function tree(roots) {
	const all = processes();
	const children = new Map();
	for (const [pid, p] of all) {
		if (!children.has(p.ppid)) children.set(p.ppid, []);
		children.get(p.ppid).push(pid);
	}
	const pids = [];
	const todo = roots.filter((r) => all.has(r));
	while (todo.length) {
		const pid = todo.pop();
		pids.push(pid);
		for (const c of children.get(pid) || []) todo.push(c);
	}
	const ticks = pids.reduce((sum, pid) => sum + all.get(pid).ticks, 0);
	return { pids, us: ticks * TICK_US };
}

const EVENTS = 'syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync';

function perfWorks() {
	if (process.env.BROKERS_PERF === '0') return false;
	const r = spawnSync('perf', ['stat', '-x', ',', '-e', EVENTS, '--', 'true'], { encoding: 'utf8' });
	return r.status === 0 && /sys_enter_fsync/.test(r.stderr || '');
}

// Count the fsync and fdatasync calls of pids (and of the processes they
// start meanwhile) until stop() is called; stop() resolves to the count,
// or null when perf is missing or failed.
async function countFsyncs(pids, enabled) {
	if (!enabled || pids.length === 0) return { stop: async () => null };
	const child = spawn('perf', ['stat', '-x', ',', '-e', EVENTS, '-p', pids.join(',')],
		{ stdio: ['ignore', 'ignore', 'pipe'] });
	let err = '';
	child.stderr.on('data', (d) => {
		err += d;
	});
	const exited = new Promise((resolve) => child.on('close', resolve));
	// perf opens its counters on every thread of every process listed.
	await sleep(500);
	return {
		async stop() {
			child.kill('SIGINT');
			await exited;
			let n = 0;
			let seen = 0;
			for (const line of err.split('\n')) {
				const f = line.split(',');
				if (f.length > 2 && /sys_enter_f(data)?sync/.test(f[2])) {
					if (!/^\d+$/.test(f[0])) return null;
					n += Number(f[0]);
					seen++;
				}
			}
			return seen === 2 ? n : null;
		},
	};
}

module.exports = { tree, perfWorks, countFsyncs };
