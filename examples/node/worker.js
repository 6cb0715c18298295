// Ship the orders of a queue, each exactly once.
//
// Every message is handled in one transaction:
//
//     BEGIN
//     mq_read(queue, wait => ...)          long poll: lease the next order
//     INSERT INTO shop_shipments ...       the work, in the application's table
//     mq_ack(queue, receipt)               strict: raises 55000 if the lease was lost
//     COMMIT
//
// so the shipment and the ack commit together or not at all.  If the worker
// dies before COMMIT, its transaction rolls back and the order is delivered
// again; if it ran past the visibility timeout and another worker got the
// order meanwhile, the strict ack fails and the shipment rolls back.
//
// When shipping fails, the work is rolled back and the message nacked with
// a delay that doubles with every delivery; once the queue's max_deliveries
// is used up, the queue moves it to its dead-letter queue.  SIGTERM or
// Ctrl-C lets the order in hand finish (or ends a long poll at once), then
// the worker exits with status 0.
//
// Connection settings come from the libpq environment variables (PGHOST,
// PGPORT, PGDATABASE, PGUSER, ...), which node-postgres reads too.  Set the
// tables and queues up with ../shop.sql.
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { stopOnSignals } from './shutdown.js';

const { values: opts } = parseArgs({
  options: {
    queue: { type: 'string', default: 'shop_orders' },
    name: { type: 'string', default: `node-worker-${process.pid}` },
    wait: { type: 'string', default: '10' },        // longest long poll, seconds
    'work-ms': { type: 'string', default: '0' },    // simulated processing time
    'retry-base': { type: 'string', default: '1' }, // first retry delay, seconds; doubles
    'retry-max': { type: 'string', default: '60' }, // longest retry delay, seconds
    verbose: { type: 'boolean', short: 'v', default: false }, // log every delivery
  },
});
const queue = opts.queue;
const workMs = Number(opts['work-ms']);
const retryBase = Number(opts['retry-base']);
const retryMax = Number(opts['retry-max']);

const log = (text) => console.error(`${new Date().toISOString()} ${opts.name} ${text}`);

class ShippingError extends Error {}

// The work: ship an order and record it in the application's table.
async function ship(client, msg) {
  const order = msg.body;
  await sleep(workMs); // stands for talking to the carrier
  // A message can ask to fail on its first deliveries, to show retries.
  if (msg.deliveries <= (order.fail_times ?? 0)) {
    throw new ShippingError('carrier unavailable');
  }
  await client.query(
    'INSERT INTO shop_shipments (order_id, worker, deliveries) VALUES ($1, $2, $3)',
    [order.order_id, opts.name, msg.deliveries],
  );
}

// Ship one order and ack it, or nack it for a later retry.  Runs inside the
// transaction that read the message.  Returns 1 when the order was shipped.
async function handle(client, msg) {
  await client.query('SAVEPOINT work'); // undo the work on failure
  try {
    await ship(client, msg);
    await client.query('RELEASE SAVEPOINT work');
  } catch (err) {
    await client.query('ROLLBACK TO SAVEPOINT work');
    const delay = Math.min(retryBase * 2 ** (msg.deliveries - 1), retryMax);
    log(`order ${msg.body.order_id}: delivery ${msg.deliveries} failed (${err.message}); `
      + `retry in ${delay.toFixed(2)}s`);
    await client.query('SELECT mq_nack($1, $2::bigint, delay => make_interval(secs => $3))',
      [queue, msg.receipt, delay]);
    return 0;
  }
  await client.query('SELECT mq_ack($1, $2::bigint)', [queue, msg.receipt]);
  return 1;
}

const client = new pg.Client({ application_name: opts.name });
await client.connect();

const state = { stopping: false, polling: false }; // polling: waiting in mq_read
stopOnSignals(client, state, log);

log(`reading ${queue}`);
let shipped = 0;
while (!state.stopping) {
  let msg;
  await client.query('BEGIN');
  try {
    state.polling = true;
    try {
      ({ rows: [msg] } = await client.query(
        'SELECT id, receipt, body, deliveries'
        + '  FROM mq_read($1, qty => 1, wait => make_interval(secs => $2))',
        [queue, Number(opts.wait)],
      ));
    } finally {
      state.polling = false;
    }
    if (msg) {
      if (opts.verbose) log(`order ${msg.body.order_id}: delivery ${msg.deliveries}`);
      shipped += await handle(client, msg);
    }
    await client.query('COMMIT'); // the shipment and the ack, or the nack
  } catch (err) {
    await client.query('ROLLBACK');
    if (err.code === '57014' && state.stopping) {
      // A signal cancelled the long poll (or, by a hair, the ack): the
      // transaction rolled back, nothing is left half done.
    } else if (err.code === '55000') {
      // The lease ran out and another worker got the order.  The strict
      // ack (or nack) failed, so the work rolled back.
      log(`order ${msg.body.order_id}: lease lost (${err.message})`);
    } else {
      throw err;
    }
  }
  if (state.stopping && msg) log(`stopping after order ${msg.body.order_id}`);
}
await client.end();
log(`stopped; shipped ${shipped} orders`);
