'use strict';
// The console's HTTP server: the page (console/dist, built by build.js),
// JSON reads under /api, and actions by POST only.
//
// Security:
// - every query runs as the database role of the connection, so queue's
//   privileges decide what each object shows and which action is allowed;
// - read-only mode refuses every action (403) and the page hides them;
// - actions need a JSON body and the X-CSRF-Token header the page gets from
//   /api/session (a page of another site cannot read it), and an Origin, if
//   sent, of this console;
// - the Host header must name this console (no DNS rebinding);
// - with a token, every request needs it: "Authorization: Bearer <token>",
//   or basic auth with the token as password (any user name);
// - errors are answered with a message and queue's SQLSTATE, never a stack.

const crypto = require('crypto');
const path = require('path');
const express = require('express');
const db = require('./db');
const { History } = require('./history');

const NAME_MAX = 200;
const IDS_MAX = 10000;

class BadRequest extends Error {
  constructor(message, status = 400) {
    super(message);
    this.status = status;
  }
}

// SQLSTATE classes to HTTP: unknown object 404, privilege 403, bad input
// 400, a state conflict 409, the rest 500 (with the server's message).
function statusOf(code) {
  if (!code) return 500;
  if (code === '42704' || code === '42P01' || code === '42883') return 404;
  if (code === '42501') return 403;
  if (code.startsWith('22') || code === '42601' || code === '2BP01') return 400;
  if (code === '55000' || code === '55006' || code === '40001' || code === '40P01' || code === '55P03') return 409;
  return 500;
}

const sha = (s) => crypto.createHash('sha256').update(String(s)).digest();
const same = (a, b) => crypto.timingSafeEqual(sha(a), sha(b));

function checkName(v, what) {
  if (typeof v !== 'string' || v.length === 0 || v.length > NAME_MAX) {
    throw new BadRequest(`${what} must be a name of 1 to ${NAME_MAX} characters`);
  }
  return v;
}

function checkIds(v) {
  if (!Array.isArray(v) || v.length === 0 || v.length > IDS_MAX) {
    throw new BadRequest(`ids must be a list of 1 to ${IDS_MAX} message ids`);
  }
  return v.map((x) => {
    const s = String(x);
    if (!/^[0-9]{1,19}$/.test(s) || BigInt(s) > 9223372036854775807n) throw new BadRequest(`bad message id: ${JSON.stringify(x)}`);
    return s;
  });
}

function checkInt(v, what, { min = 0, max = Number.MAX_SAFE_INTEGER, optional = false } = {}) {
  if ((v === undefined || v === null || v === '') && optional) return null;
  const s = String(v);
  if (!/^-?[0-9]+$/.test(s) || Number(s) < min || Number(s) > max) {
    throw new BadRequest(`${what} must be a whole number from ${min} to ${max}`);
  }
  return s;
}

function isLoopback(host) {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost' || /^127\./.test(host);
}

function createApp(options) {
  const {
    pool,
    readOnly = false,
    token = null,
    listenHost = '127.0.0.1',
    allowHosts = [],
    refreshSeconds = 5,
    staleAfter = 60,
    distDir = path.join(__dirname, '..', 'dist'),
  } = options;
  if (!token && !isLoopback(listenHost)) {
    throw new Error(`listening on ${listenHost}, beyond loopback, needs a token (--token or QUEUE_CONSOLE_TOKEN)`);
  }
  const csrf = crypto.randomBytes(32).toString('base64url');
  const history = new History({ staleAfter });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // Sampling: one snapshot per refresh, whether or not a page is open.
  let sampling = null;
  let lastError = null;
  async function sample() {
    if (sampling) return sampling;
    sampling = (async () => {
      try {
        history.add(await db.snapshot(pool));
        lastError = null;
      } catch (e) {
        lastError = e;
      } finally {
        sampling = null;
      }
    })();
    return sampling;
  }
  const timer = setInterval(sample, refreshSeconds * 1000);
  timer.unref();

  app.use((req, res, next) => {
    res.set({
      'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Resource-Policy': 'same-origin',
    });
    next();
  });

  // The Host header must be this console's, or a page of another name that
  // resolves to this address could read it (DNS rebinding).
  app.use((req, res, next) => {
    const host = (req.headers.host || '').replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
    if (!isLoopback(host) && host !== listenHost && !allowHosts.includes(host)) {
      return res.status(403).json({ error: `host "${host}" is not this console's (see --allow-host)` });
    }
    return next();
  });

  if (token) {
    app.use((req, res, next) => {
      const auth = req.headers.authorization || '';
      let given = null;
      if (auth.startsWith('Bearer ')) given = auth.slice(7);
      else if (auth.startsWith('Basic ')) {
        const decoded = Buffer.from(auth.slice(6), 'base64').toString();
        given = decoded.slice(decoded.indexOf(':') + 1);
      }
      if (given !== null && same(given, token)) return next();
      res.set('WWW-Authenticate', 'Basic realm="queue console", charset="UTF-8"');
      return res.status(401).json({ error: 'this console needs its token (basic auth password or Bearer)' });
    });
  }

  app.use('/api', (req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });

  // Actions: POST with a JSON body and the CSRF token, never in read-only mode.
  app.use('/api', (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    if (req.method !== 'POST') return res.status(405).json({ error: 'actions are POST requests' });
    const origin = req.headers.origin;
    if (origin && origin !== 'null') {
      let oh;
      try {
        oh = new URL(origin).host;
      } catch {
        oh = null;
      }
      if (oh !== req.headers.host) return res.status(403).json({ error: 'cross-origin requests are refused' });
    }
    const given = req.headers['x-csrf-token'];
    if (typeof given !== 'string' || !same(given, csrf)) {
      return res.status(403).json({ error: 'missing or wrong X-CSRF-Token (reload the page)' });
    }
    if (readOnly) return res.status(403).json({ error: 'this console is read-only' });
    if (!req.is('application/json')) return res.status(415).json({ error: 'actions take a JSON body (Content-Type: application/json)' });
    return next();
  });
  app.use('/api', express.json({ limit: '1mb', strict: false }));

  const route = (fn) => async (req, res) => {
    try {
      res.json(await fn(req, res));
    } catch (e) {
      const status = e.status || statusOf(e.code);
      const body = { error: e.message || 'error' };
      if (e.code) body.sqlstate = e.code;
      if (e.detail) body.detail = e.detail;
      if (e.hint) body.hint = e.hint;
      res.status(status).json(body);
    }
  };

  app.get('/api/session', route(async () => ({
    ...(await db.session(pool)),
    read_only: readOnly,
    csrf,
    refresh_seconds: refreshSeconds,
  })));

  app.get('/api/overview', route(async (req) => {
    if (!history.latest() || req.query.fresh === '1') await sample();
    if (!history.latest() && lastError) throw lastError;
    return { ...history.overview(), refresh_seconds: refreshSeconds };
  }));

  async function queueDetails(name) {
    const details = await db.queueOptions(pool, name);
    if (!details) throw new BadRequest(`queue "${name}" does not exist, or this role may not see it`, 404);
    return details;
  }

  app.get('/api/queues/:name', route(async (req) => {
    const name = checkName(req.params.name, 'queue');
    const details = await queueDetails(name);
    if (req.query.fresh === '1') await sample();
    const overview = history.overview().queues.find((q) => q.name === name) || null;
    return { name, ...details, current: overview, series: history.queueSeries(name) };
  }));

  app.get('/api/queues/:name/messages', route(async (req) => {
    const name = checkName(req.params.name, 'queue');
    const state = req.query.state || 'all';
    if (!['all', 'ready', 'inflight', 'delayed'].includes(state)) {
      throw new BadRequest('state must be all, ready, inflight or delayed');
    }
    const after = req.query.after_id ? checkIds([req.query.after_id])[0] : null;
    const qty = Number(checkInt(req.query.qty ?? 50, 'qty', { min: 1, max: 1000 }));
    const rows = await db.messages(pool, name, state, after, qty);
    return { messages: rows, next_after_id: rows.length === qty ? rows[rows.length - 1].id : null };
  }));

  app.get('/api/queues/:name/dead-letters', route(async (req) => db.deadLetters(pool, checkName(req.params.name, 'queue'))));

  const queueAction = (kind, check) => route(async (req) => {
    const name = checkName(req.params.name, 'queue');
    const args = check(req.body ?? {});
    const n = await db.actions[kind](pool, name, args);
    return { [kind === 'send' ? 'id' : 'count']: n === null ? null : String(n) };
  });
  const bodyObject = (b) => {
    if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new BadRequest('the request body must be a JSON object');
    return b;
  };
  app.post('/api/queues/:name/delete', queueAction('delete', (b) => ({ ids: checkIds(bodyObject(b).ids) })));
  app.post('/api/queues/:name/move', queueAction('move', (b) => ({
    ids: checkIds(bodyObject(b).ids), to_queue: checkName(b.to_queue, 'to_queue') })));
  app.post('/api/queues/:name/redrive', queueAction('redrive', (b) => {
    bodyObject(b);
    return {
      ids: b.ids === undefined || b.ids === null ? null : checkIds(b.ids),
      source_queue: b.source_queue === undefined || b.source_queue === null ? null : checkName(b.source_queue, 'source_queue'),
      max: checkInt(b.max, 'max', { min: 1, optional: true }),
    };
  }));
  app.post('/api/queues/:name/purge', queueAction('purge', (b) => bodyObject(b)));
  app.post('/api/queues/:name/send', queueAction('send', (b) => {
    bodyObject(b);
    if (!('body' in b)) throw new BadRequest('send needs a body (any JSON value)');
    if (b.headers !== undefined && b.headers !== null && (typeof b.headers !== 'object' || Array.isArray(b.headers))) {
      throw new BadRequest('headers must be a JSON object');
    }
    return { body: b.body, headers: b.headers ?? null, delay: b.delay_seconds === undefined ? '0'
      : `${checkInt(b.delay_seconds, 'delay_seconds', { max: 86400 * 365 })} seconds`,
    priority: checkInt(b.priority ?? 0, 'priority', { min: -2147483648, max: 2147483647 }) };
  }));

  app.get('/api/streams/:name', route(async (req) => {
    const name = checkName(req.params.name, 'stream');
    const options = await db.streamOptions(pool, name);
    if (!options) throw new BadRequest(`stream "${name}" does not exist, or this role may not see it`, 404);
    if (req.query.fresh === '1') await sample();
    const current = history.overview().streams.find((s) => s.name === name) || null;
    return { name, options, current, lag_series: history.groupSeries(name) };
  }));

  app.post('/api/streams/:name/seek', route(async (req) => {
    const name = checkName(req.params.name, 'stream');
    const b = bodyObject(req.body ?? null);
    const group = checkName(b.group, 'group');
    if (b.at !== undefined) {
      if (typeof b.at !== 'string' || Number.isNaN(Date.parse(b.at))) throw new BadRequest('at must be a time (ISO 8601)');
      await db.actions.seek(pool, name, { group, at: b.at });
    } else {
      const partition = checkInt(b.partition, 'partition', { max: 2147483647 });
      const position = checkInt(b.position, 'position');
      await db.actions.seek(pool, name, { group, partition, position });
    }
    await sample();
    return { ok: true };
  }));

  app.use('/api', (req, res) => res.status(404).json({ error: `no such endpoint: ${req.method} ${req.path}` }));

  app.use(express.static(distDir, { index: 'index.html', fallthrough: true, etag: false, maxAge: 0 }));

  // A body that is not JSON, or too large: a message, not a stack.
  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    const status = err.status || err.statusCode || 500;
    const message = err.type === 'entity.parse.failed' ? 'the request body is not valid JSON'
      : err.type === 'entity.too.large' ? 'the request body is too large' : (status < 500 ? err.message : 'internal error');
    res.status(status).json({ error: message });
  });

  return {
    app,
    history,
    sample,
    close() {
      clearInterval(timer);
    },
  };
}

module.exports = { createApp, statusOf, isLoopback };
