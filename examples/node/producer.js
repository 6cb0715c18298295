// Place orders, each with its message, in one transaction (transactional outbox).
//
// For every order the producer inserts the business row and sends the
// message in the same transaction: both commit or neither does, so no order
// is lost and no message announces an order that does not exist.  The
// message's idempotency key is the order id, and the row is inserted with
// ON CONFLICT DO NOTHING, so placing an order again (say after a connection
// broke during COMMIT, when the outcome is unknown) sends no second message.
//
// Connection settings come from the libpq environment variables (PGHOST,
// PGPORT, PGDATABASE, PGUSER, ...), which node-postgres reads too.  Set the
// tables and queues up with ../shop.sql.
import { parseArgs } from 'node:util';
import pg from 'pg';

const ITEMS = ['book', 'lamp', 'mug', 'pen'];

// Insert the order and send its message atomically.  Returns false when
// the order existed already (then nothing is sent again).
async function placeOrder(client, queue, orderId, failTimes = 0) {
  const body = { order_id: orderId, item: ITEMS[orderId % ITEMS.length] };
  if (failTimes) body.fail_times = failTimes; // asks the worker to fail that often
  await client.query('BEGIN');
  try {
    const { rowCount } = await client.query(
      'INSERT INTO shop_orders (order_id, item) VALUES ($1, $2) ON CONFLICT (order_id) DO NOTHING',
      [orderId, body.item],
    );
    await client.query('SELECT mq_send($1, $2::jsonb, idempotency_key => $3)',
      [queue, body, String(orderId)]);
    await client.query('COMMIT');
    return rowCount === 1;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}

const { values: opts } = parseArgs({
  options: {
    queue: { type: 'string', default: 'shop_orders' },
    first: { type: 'string', default: '1' },        // first order id
    count: { type: 'string', default: '10' },       // how many orders
    'fail-every': { type: 'string', default: '0' }, // every Nth order asks to fail first
    'fail-times': { type: 'string', default: '2' }, // how many deliveries of it fail
  },
});
const first = Number(opts.first);
const count = Number(opts.count);
const failEvery = Number(opts['fail-every']);
const failTimes = Number(opts['fail-times']);

const client = new pg.Client({ application_name: 'node-producer' });
await client.connect();
let placed = 0;
try {
  for (let orderId = first; orderId < first + count; orderId++) {
    const failing = failEvery > 0 && orderId % failEvery === 0;
    if (await placeOrder(client, opts.queue, orderId, failing ? failTimes : 0)) placed++;
  }
} finally {
  await client.end();
}
console.log(`placed ${placed} orders (${count - placed} were there already)`);
