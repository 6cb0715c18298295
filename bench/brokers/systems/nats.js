'use strict';
// NATS JetStream: one stream with file storage and work-queue retention (a
// message is removed once acked) on one subject, one durable pull consumer
// with explicit acks, through nats.js over TCP (127.0.0.1).  A send is
// js.publish, which resolves on the server's PubAck.

const { connect: natsConnect, AckPolicy, RetentionPolicy, StorageType, DiscardPolicy } = require('nats');
const { FIXED_BODY, now, sendLoop } = require('../common');

const STREAM = 'BENCH';
const SUBJECT = 'bench.q';
const DURABLE = 'bench';
const BODY = Buffer.from(FIXED_BODY);

async function connect(cfg) {
	const nc = await natsConnect({ servers: cfg.nats });
	return { nc, js: nc.jetstream() };
}

async function close(c) {
	await c.nc.close().catch(() => {});
}

// Publish one message and wait for its PubAck, then the next.
function send1(c, ctx) {
	return sendLoop(ctx, 1, () => c.js.publish(SUBJECT, BODY));
}

// 100 publishes at once, then wait for all their PubAcks.
function send100(c, ctx) {
	return sendLoop(ctx, 100, () => Promise.all(Array.from({ length: 100 }, () => c.js.publish(SUBJECT, BODY))));
}

// Pull requests of up to 10 that do not wait (no_wait: the server answers
// at once with what it has), each message acked (m.ack(), which has no
// reply unless asked for); done when a request comes back empty.  The acks
// are followed by a round trip to the server (flush) before the time of the
// last one is taken.
async function consume(c, ctx) {
	let count = 0;
	let lastAt = null;
	let drained = false;
	while (ctx.running()) {
		let n = 0;
		const batch = c.js.fetch(STREAM, DURABLE, { batch: 10, no_wait: true });
		for await (const m of batch) {
			ctx.parse(m.data);
			m.ack();
			n++;
		}
		if (n === 0) {
			drained = true;
			break;
		}
		count += n;
		lastAt = now();
	}
	await c.nc.flush();
	return { count, lastAt, drained };
}

// One durable send of the latency producer.
function sendOne(c, ctx, body) {
	return c.js.publish(SUBJECT, Buffer.from(body));
}

// The latency consumer: the pull consumer's consume() iterator (it keeps
// up to 10 messages requested, with a long expiry), one ack per message.
async function latencyConsume(c, ctx) {
	const consumer = await c.js.consumers.get(STREAM, DURABLE);
	const msgs = await consumer.consume({ max_messages: 10 });
	ctx.onFinish(() => msgs.stop());
	for await (const m of msgs) {
		ctx.received(m.data, now());
		m.ack();
		if (ctx.finished()) break;
	}
	await c.nc.flush();
}

async function admin(cfg) {
	const c = await connect(cfg);
	const jsm = await c.nc.jetstreamManager();
	return {
		async reset() {
			await jsm.streams.delete(STREAM).catch(() => {});
			await jsm.streams.add({
				name: STREAM,
				subjects: [SUBJECT],
				storage: StorageType.File,
				retention: RetentionPolicy.Workqueue,
				discard: DiscardPolicy.Old,
				num_replicas: 1,
			});
			await jsm.consumers.add(STREAM, {
				durable_name: DURABLE,
				ack_policy: AckPolicy.Explicit,
				max_ack_pending: 1000,
			});
		},
		async fill(_queue, n) {
			for (let left = n; left > 0; left -= 1000) {
				const acks = [];
				for (let i = 0; i < Math.min(left, 1000); i++) acks.push(c.js.publish(SUBJECT, BODY));
				await Promise.all(acks);
			}
		},
		async settle() {},
		async depth() {
			const si = await jsm.streams.info(STREAM);
			return si.state.messages;
		},
		async versions() {
			return { nats: c.nc.info.version };
		},
		async close() {
			await close(c);
		},
	};
}

module.exports = { connect, close, send1, send100, consume, sendOne, latencyConsume, admin };
