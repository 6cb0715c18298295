// Relay a queue's messages to an HTTP endpoint (a webhook), at least once.
//
// Each message is POSTed as its JSON body, with the headers
// Queue-Message-Id (the message id, the same on every delivery: the
// endpoint's key for dropping a duplicate) and Queue-Delivery (1 on the
// first delivery, 2 on the second...).  A 2xx answer is a success.
//
// The work is outside the database, so there is nothing to commit with the
// ack; the relay settles a batch in the statement that reads the next one:
//
//     mq_read(queue, qty => 10, wait => ..., ack => <the receipts posted>)
//
// one round trip and one commit per batch.  The ack of a batch comes after
// every message of it was posted, so a relay that dies loses nothing: its
// leases end and the batch is delivered again (hence "at least once").  A
// message whose POST failed is nacked with a delay that doubles with every
// delivery, and after the queue's max_deliveries it goes to the
// dead-letter queue.  A lease that ran out before its ack (the endpoint was
// slow) acks nothing: the message is delivered again.  SIGTERM or Ctrl-C
// lets the batch in hand finish and be acked, or ends a long poll at once.
//
// Connection settings come from the libpq environment variables (PGHOST,
// PGPORT, PGDATABASE, PGUSER, ...).
import { parseArgs } from 'node:util';
import pg from 'pg';
import { stopOnSignals } from './shutdown.js';

const { values: opts } = parseArgs({
  options: {
    queue: { type: 'string', default: 'shop_events' },
    url: { type: 'string', default: 'http://127.0.0.1:8080/events' },
    name: { type: 'string', default: `node-relay-${process.pid}` },
    batch: { type: 'string', default: '10' },        // messages per read
    wait: { type: 'string', default: '10' },         // longest long poll, seconds
    'timeout-ms': { type: 'string', default: '5000' }, // per POST
    'retry-base': { type: 'string', default: '1' },  // first retry delay, seconds; doubles
    'retry-max': { type: 'string', default: '60' },  // longest retry delay, seconds
    verbose: { type: 'boolean', short: 'v', default: false },
  },
});
const queue = opts.queue;
const log = (text) => console.error(`${new Date().toISOString()} ${opts.name} ${text}`);

// POST one message; true when the endpoint answered 2xx.
async function post(msg) {
  try {
    const res = await fetch(opts.url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'Queue-Message-Id': String(msg.id),
        'Queue-Delivery': String(msg.deliveries),
      },
      body: JSON.stringify(msg.body),
      signal: AbortSignal.timeout(Number(opts['timeout-ms'])),
    });
    await res.arrayBuffer();
    if (res.ok) return true;
    log(`message ${msg.id}: delivery ${msg.deliveries} answered ${res.status}`);
  } catch (err) {
    log(`message ${msg.id}: delivery ${msg.deliveries} failed (${err.message})`);
  }
  return false;
}

const client = new pg.Client({ application_name: opts.name });
await client.connect();

const state = { stopping: false, polling: false }; // polling: in mq_read, which may sleep
stopOnSignals(client, state, log);

log(`relaying ${queue} to ${opts.url}`);
let done = []; // receipts of the batch posted, acked by the next read
let relayed = 0;
while (!state.stopping) {
  let batch;
  // A signal may cancel this read: its ack rolls back with it, and the
  // receipts are acked on their own below.
  state.polling = true;
  try {
    ({ rows: batch } = await client.query(
      'SELECT id, receipt, body, deliveries FROM mq_read($1, qty => $2,'
      + ' wait => make_interval(secs => $3), ack => $4::bigint[])',
      [queue, Number(opts.batch), Number(opts.wait), done],
    ));
  } catch (err) {
    if (err.code === '57014' && state.stopping) break; // a signal ended the long poll
    throw err;
  } finally {
    state.polling = false;
  }
  relayed += done.length;
  done = [];
  const failed = [];
  // One message after the other, in the queue's order.
  for (const msg of batch) {
    if (opts.verbose) log(`message ${msg.id}: delivery ${msg.deliveries}`);
    if (await post(msg)) done.push(msg.receipt);
    else failed.push(msg);
  }
  for (const msg of failed) {
    const delay = Math.min(Number(opts['retry-base']) * 2 ** (msg.deliveries - 1), Number(opts['retry-max']));
    try {
      await client.query('SELECT mq_nack($1, $2::bigint, delay => make_interval(secs => $3), strict => false)',
        [queue, msg.receipt, delay]);
    } catch (err) {
      // A signal that came as the read returned: the lease ends by itself.
      if (err.code !== '57014' || !state.stopping) throw err;
    }
  }
}
// The last batch: acked on its own (a lease that ran out acks nothing).
if (done.length > 0) {
  await client.query('SELECT mq_ack($1, $2::bigint[], strict => false)', [queue, done]);
  relayed += done.length;
}
log(`stopped after relaying ${relayed} messages`);
await client.end();
