'use strict';
// The console's queries.  Each reads queue's views or calls its functions
// as the role the console connects with, so queue's privileges decide what
// is seen and allowed.  The overview reads one row per object (mq_queues,
// mq_stats, mq_topics, mq_streams, mq_groups), never the messages.

const pg = require('pg');

// A libpq connection string: a URI (postgresql://...) or key=value pairs
// (host=/tmp port=5432 dbname=app).  Unset keys come from the PG*
// environment variables, as with psql.
function parseConninfo(conninfo) {
  if (!conninfo) return {};
  if (/^postgres(ql)?:\/\//.test(conninfo)) return { connectionString: conninfo };
  const keys = { host: 'host', hostaddr: 'host', port: 'port', dbname: 'database',
    user: 'user', password: 'password', application_name: 'application_name',
    sslmode: 'sslmode', connect_timeout: 'connectionTimeoutMillis' };
  const out = {};
  const re = /\s*([a-z_]+)\s*=\s*('((?:[^'\\]|\\.)*)'|[^\s']*)/gy;
  let m;
  let at = 0;
  while ((m = re.exec(conninfo)) !== null) {
    at = re.lastIndex;
    const value = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[2];
    const key = keys[m[1]];
    if (!key) throw new Error(`unknown connection option "${m[1]}"`);
    if (key === 'sslmode') out.ssl = value === 'disable' ? false : { rejectUnauthorized: value === 'verify-full' };
    else if (key === 'connectionTimeoutMillis') out[key] = Number(value) * 1000;
    else out[key] = value;
    if (re.lastIndex >= conninfo.length) break;
  }
  if (conninfo.slice(at).trim() !== '') throw new Error(`cannot parse the connection string near "${conninfo.slice(at).trim()}"`);
  return out;
}

function createPool(conninfo) {
  const pool = new pg.Pool({
    application_name: 'queue console',
    max: 4,
    idleTimeoutMillis: 30000,
    statement_timeout: 15000,
    ...parseConninfo(conninfo),
  });
  // An idle client's error (the server restarted) must not end the process.
  pool.on('error', () => {});
  return pool;
}

const num = (v) => (v === null || v === undefined ? null : Number(v));

async function session(db) {
  const r = await db.query(`SELECT current_user AS role, current_database() AS database,
    mq_version() AS version, split_part(current_setting('server_version'), ' ', 1) AS server`);
  return r.rows[0];
}

// Everything the overview shows, one row per object.
async function snapshot(db) {
  const [queues, topics, streams, groups] = await Promise.all([
    db.query(`SELECT q.queue, q.depth, q.ready, q.inflight, q.delayed,
        extract(epoch FROM q.oldest_ready_age)::float8 AS oldest_ready_age,
        extract(epoch FROM q.oldest_age)::float8 AS oldest_age, q.created_at,
        q.dead_letter_queue, q.max_deliveries, q.visibility_timeout::text AS visibility_timeout,
        s.sent, s.delivered, s.acked, s.nacked, s.dead_lettered, s.expired, s.rejected
      FROM mq_queues q LEFT JOIN mq_stats s ON s.queue = q.queue ORDER BY q.queue`),
    db.query(`SELECT topic, queue, pattern FROM mq_topics ORDER BY topic, queue, pattern`),
    db.query(`SELECT st.stream, st.partitions, st.partition, st.first_position, st.next_position,
        st.records, st.bytes, st.created_at, s.appended, s.consumed
      FROM mq_streams st LEFT JOIN mq_stats s ON s.queue = st.stream
      ORDER BY st.stream, st.partition`),
    db.query(`SELECT stream, consumer_group, partition, "position", lag FROM mq_groups
      ORDER BY stream, consumer_group, partition`),
  ]);
  const out = { queues: [], topics: [], streams: [] };
  for (const r of queues.rows) {
    out.queues.push({
      name: r.queue, created_at: r.created_at, depth: num(r.depth), ready: num(r.ready), inflight: num(r.inflight),
      delayed: num(r.delayed), oldest_ready_age: num(r.oldest_ready_age), oldest_age: num(r.oldest_age),
      dead_letter_queue: r.dead_letter_queue, max_deliveries: num(r.max_deliveries),
      visibility_timeout: r.visibility_timeout,
      counters: { sent: num(r.sent), delivered: num(r.delivered), acked: num(r.acked),
        nacked: num(r.nacked), dead_lettered: num(r.dead_lettered), expired: num(r.expired),
        rejected: num(r.rejected) },
    });
  }
  const topicsByName = new Map();
  for (const r of topics.rows) {
    if (!topicsByName.has(r.topic)) topicsByName.set(r.topic, { name: r.topic, subscriptions: [] });
    if (r.queue !== null) topicsByName.get(r.topic).subscriptions.push({ queue: r.queue, pattern: r.pattern });
  }
  out.topics = [...topicsByName.values()];
  const streamsByName = new Map();
  for (const r of streams.rows) {
    if (!streamsByName.has(r.stream)) {
      streamsByName.set(r.stream, { name: r.stream, created_at: r.created_at, partitions: [], records: 0, bytes: 0, groups: [],
        counters: { appended: num(r.appended), consumed: num(r.consumed) } });
    }
    const s = streamsByName.get(r.stream);
    s.partitions.push({ partition: r.partition, first_position: num(r.first_position),
      next_position: num(r.next_position), records: num(r.records), bytes: num(r.bytes) });
    s.records += num(r.records) || 0;
    s.bytes += num(r.bytes) || 0;
  }
  for (const r of groups.rows) {
    const s = streamsByName.get(r.stream);
    if (!s) continue;
    let g = s.groups.find((x) => x.name === r.consumer_group);
    if (!g) {
      g = { name: r.consumer_group, lag: 0, partitions: [] };
      s.groups.push(g);
    }
    g.partitions.push({ partition: r.partition, position: num(r.position), lag: num(r.lag) });
    g.lag += num(r.lag) || 0;
  }
  out.streams = [...streamsByName.values()];
  return out;
}

async function queueOptions(db, name) {
  // As JSON, so that intervals come as PostgreSQL writes them ("00:00:30"),
  // in the view's column order.
  const r = await db.query(`SELECT row_to_json(q) AS options FROM mq_queues q WHERE queue = $1`, [name]);
  if (r.rows.length === 0) return null;
  const { queue, depth, ready, inflight, delayed, ...options } = r.rows[0].options;
  const sources = await db.query(`SELECT queue FROM mq_queues WHERE dead_letter_queue = $1 ORDER BY queue`, [name]);
  const groups = await db.query(`SELECT group_key, ready, inflight, delayed,
      extract(epoch FROM oldest_age)::float8 AS oldest_age
    FROM mq_message_groups WHERE queue = $1 ORDER BY oldest_age DESC NULLS LAST, group_key LIMIT 100`, [name]);
  return {
    options,
    dead_letter_sources: sources.rows.map((x) => x.queue),
    message_groups: groups.rows.map((g) => ({ group_key: g.group_key, ready: num(g.ready),
      inflight: num(g.inflight), delayed: num(g.delayed), oldest_age: num(g.oldest_age) })),
  };
}

// A page of messages by state, in id order after after_id (mq_inspect).
async function messages(db, name, state, afterId, qty) {
  const r = await db.query(`SELECT id, state, priority, group_key, deliveries, enqueued_at, visible_at,
      lease_until, lease_pid, headers, body
    FROM mq_inspect($1, $2, $3, $4)`, [name, state, afterId, qty]);
  return r.rows.map((m) => ({
    id: String(m.id), state: m.state, priority: m.priority, group_key: m.group_key,
    deliveries: m.deliveries, enqueued_at: m.enqueued_at, visible_at: m.visible_at,
    lease_until: m.lease_until, lease_pid: m.lease_pid, headers: m.headers, body: m.body,
    last_error: m.headers && m.headers.mq_last_error !== undefined ? m.headers.mq_last_error : null,
    dead_letter: m.headers && m.headers.mq_dead_letter !== undefined ? m.headers.mq_dead_letter : null,
  }));
}

// The ready letters of a dead-letter queue by the queue they came from
// (what mq_redrive would move), counted over at most LETTERS_COUNTED.
const LETTERS_COUNTED = 10000;
async function deadLetters(db, name) {
  const r = await db.query(`SELECT headers->'mq_dead_letter'->>'queue' AS source, count(*) AS ready
    FROM mq_inspect($1, 'ready', NULL, $2) GROUP BY 1 ORDER BY 1`, [name, LETTERS_COUNTED]);
  const counted = r.rows.reduce((n, x) => n + Number(x.ready), 0);
  return {
    sources: r.rows.filter((x) => x.source !== null).map((x) => ({ queue: x.source, ready: Number(x.ready) })),
    ready: counted,
    complete: counted < LETTERS_COUNTED,
  };
}

async function streamOptions(db, name) {
  const r = await db.query(`SELECT partitions, max_age::text AS max_age, max_bytes, max_messages,
      dedup_window::text AS dedup_window, created_at
    FROM mq_streams WHERE stream = $1 LIMIT 1`, [name]);
  return r.rows[0] || null;
}

const one = async (db, sql, args) => Object.values((await db.query(sql, args)).rows[0])[0];

const actions = {
  delete: (db, q, a) => one(db, 'SELECT mq_delete($1, $2::bigint[])', [q, a.ids]),
  move: (db, q, a) => one(db, 'SELECT mq_move($1, $2::bigint[], $3)', [q, a.ids, a.to_queue]),
  redrive: (db, q, a) => one(db, 'SELECT mq_redrive($1, $2, $3, $4::bigint[])',
    [q, a.max ?? null, a.source_queue ?? null, a.ids ?? null]),
  purge: (db, q) => one(db, 'SELECT mq_purge($1)', [q]),
  send: (db, q, a) => one(db, 'SELECT mq_send($1, $2::jsonb, $3::jsonb, $4::interval, $5)',
    [q, JSON.stringify(a.body), a.headers == null ? null : JSON.stringify(a.headers),
      a.delay ?? '0', a.priority ?? 0]),
  seek: (db, s, a) => (a.at !== undefined
    ? db.query('SELECT mq_seek($1, $2, $3::timestamptz)', [s, a.group, a.at])
    : db.query('SELECT mq_seek($1, $2, $3::int, $4::bigint)', [s, a.group, a.partition, a.position])),
};

module.exports = { parseConninfo, createPool, session, snapshot, queueOptions, messages, deadLetters, streamOptions, actions };
