'use strict';
// Shared by the console's tests: a database with queue (QUEUE_CONSOLE_TEST_DB,
// a libpq connection string of a superuser; test/t/077_console.pl gives it),
// and a console served in this process on a free loopback port.

const pg = require('pg');
const { parseConninfo, createPool } = require('../lib/db');
const { createApp } = require('../lib/app');

const conninfo = process.env.QUEUE_CONSOLE_TEST_DB || '';

// A client of the test database as the superuser (or, with role, as that
// role: SET ROLE after connecting).
async function sql(text, params = [], role = null) {
  const c = new pg.Client(parseConninfo(conninfo));
  await c.connect();
  try {
    if (role) await c.query(`SET ROLE ${c.escapeIdentifier(role)}`);
    return (await c.query(text, params)).rows;
  } finally {
    await c.end();
  }
}

// Start a console; options go to createApp (role: connect as that role,
// which must be able to log in without a password on the test server).
async function startConsole(options = {}) {
  const { role, ...rest } = options;
  const pool = createPool(conninfo + (role ? ` user=${role}` : ''));
  const consoleApp = createApp({ pool, refreshSeconds: 1, staleAfter: 1, ...rest });
  await consoleApp.sample();
  const server = await new Promise((resolve) => {
    const s = consoleApp.app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${server.address().port}`;
  let csrf = null;
  const api = async (path, { method = 'GET', body, headers = {}, raw = false } = {}) => {
    const h = { ...headers };
    if (method === 'POST') {
      if (csrf === null && !('X-CSRF-Token' in h)) {
        const s = await (await fetch(`${base}/api/session`, { headers: rest.token ? { Authorization: `Bearer ${rest.token}` } : {} })).json();
        csrf = s.csrf;
      }
      if (!('X-CSRF-Token' in h)) h['X-CSRF-Token'] = csrf;
      if (!('Content-Type' in h)) h['Content-Type'] = 'application/json';
    }
    if (rest.token && !('Authorization' in h)) h.Authorization = `Bearer ${rest.token}`;
    const r = await fetch(base + path, {
      method, headers: h,
      body: body === undefined ? undefined : (raw ? body : JSON.stringify(body)),
    });
    const text = await r.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    return { status: r.status, json, text, headers: r.headers };
  };
  return {
    base,
    api,
    app: consoleApp,
    async close() {
      consoleApp.close();
      await new Promise((resolve) => server.close(resolve));
      server.closeAllConnections?.();
      await pool.end();
    },
  };
}

// Wait until fn() is truthy (polling), or fail after ms.
async function until(fn, ms = 10000, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

module.exports = { conninfo, sql, startConsole, until };
