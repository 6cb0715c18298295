'use strict';
// RabbitMQ: a durable queue, classic or quorum (ctx.kind), through amqplib
// (AMQP 0-9-1) over TCP (127.0.0.1).  Messages are persistent (delivery
// mode 2) and published on a confirm channel; consumers ack by hand.

const amqp = require('amqplib');
const { FIXED_BODY, now, sendLoop, sleep } = require('../common');

const BODY = Buffer.from(FIXED_BODY);
const PUBLISH = { persistent: true, contentType: 'application/json' };

async function connect(cfg) {
	return amqp.connect(cfg.amqp);
}

async function close(conn) {
	await conn.close().catch(() => {});
}

function publishConfirmed(ch, queue, buf) {
	return new Promise((resolve, reject) => {
		ch.publish('', queue, buf, PUBLISH, (err) => (err ? reject(err) : resolve()));
	});
}

// Publish one message, wait for its confirm, then the next.
async function send1(conn, ctx) {
	const ch = await conn.createConfirmChannel();
	return sendLoop(ctx, 1, () => publishConfirmed(ch, ctx.queue, BODY));
}

// Publish 100, then wait for all their confirms.
async function send100(conn, ctx) {
	const ch = await conn.createConfirmChannel();
	return sendLoop(ctx, 100, () => {
		for (let i = 0; i < 100; i++) ch.publish('', ctx.queue, BODY, PUBLISH);
		return ch.waitForConfirms();
	});
}

// A push consumer with prefetch 10 that acks each full batch of 10 with one
// multiple ack.  AMQP 0-9-1 has no reply to an ack: the time of the last
// ack is when it was written to the socket.  A batch left short (the end of
// the backlog) is acked after 20 ms without a delivery; the consumer is
// done when nothing arrived for 200 ms and the queue has no ready message.
async function consume(conn, ctx) {
	const ch = await conn.createChannel();
	await ch.prefetch(10);
	let count = 0;
	let lastAt = null;
	let pending = 0;
	let last = null;
	let lastDelivery = now();
	const ackPending = () => {
		if (pending === 0) return;
		ch.ack(last, true);
		count += pending;
		pending = 0;
		lastAt = now();
	};
	const { consumerTag } = await ch.consume(ctx.queue, (msg) => {
		if (msg === null) return;
		lastDelivery = now();
		ctx.parse(msg.content);
		pending++;
		last = msg;
		if (pending === 10) ackPending();
	}, { noAck: false });

	let drained = false;
	for (;;) {
		await sleep(20);
		const idle = now() - lastDelivery;
		if (idle >= 20) ackPending();
		if (!ctx.running()) break;
		if (idle >= 200) {
			const { messageCount } = await ch.checkQueue(ctx.queue);
			if (messageCount === 0 && now() - lastDelivery >= 200) {
				drained = true;
				break;
			}
		}
	}
	await ch.cancel(consumerTag);
	ackPending();
	await ch.checkQueue(ctx.queue);	// a round trip: the acks have reached the broker
	return { count, lastAt, drained };
}

let latencyChannel = null;

// One durable send of the latency producer, confirmed on its own.
async function sendOne(conn, ctx, body) {
	if (!latencyChannel) latencyChannel = await conn.createConfirmChannel();
	return publishConfirmed(latencyChannel, ctx.queue, Buffer.from(body));
}

// The latency consumer: a push consumer, prefetch 10, one ack per message.
async function latencyConsume(conn, ctx) {
	const ch = await conn.createChannel();
	await ch.prefetch(10);
	await new Promise((resolve) => {
		ch.consume(ctx.queue, (msg) => {
			if (msg === null) return;
			ctx.received(msg.content, now());
			ch.ack(msg);
			if (ctx.finished()) resolve();
		}, { noAck: false });
		ctx.onFinish(resolve);
	});
}

async function admin(cfg) {
	const conn = await connect(cfg);
	let ch = await conn.createConfirmChannel();
	const args = cfg.kind === 'quorum' ? { 'x-queue-type': 'quorum' } : { 'x-queue-type': 'classic' };
	return {
		async reset(queue) {
			await ch.deleteQueue(queue);
			await ch.assertQueue(queue, { durable: true, arguments: args });
		},
		async fill(queue, n) {
			for (let left = n; left > 0; left -= 1000) {
				const k = Math.min(left, 1000);
				for (let i = 0; i < k; i++) ch.publish('', queue, BODY, PUBLISH);
				await ch.waitForConfirms();
			}
		},
		async settle() {},
		async depth(queue) {
			const r = await ch.checkQueue(queue);
			return r.messageCount;
		},
		async versions() {
			const p = conn.connection.serverProperties;
			return { rabbitmq: String(p.version), erlang: String(p.platform) };
		},
		async close() {
			await ch.close().catch(() => {});
			ch = null;
			await close(conn);
		},
	};
}

module.exports = { connect, close, send1, send100, consume, sendOne, latencyConsume, admin };
