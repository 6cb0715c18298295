#!/usr/bin/env node
'use strict';
// queue console: node server.js [options]
//
//   --db CONNINFO      libpq connection string or URI (default: the PG*
//                      environment variables, as with psql); env QUEUE_CONSOLE_DB
//   --listen HOST      address to listen on (default 127.0.0.1)
//   --port N           port (default 8080; 0: any free one)
//   --read-only        show everything, allow no action
//   --token TOKEN      required of every request (Bearer, or basic auth
//                      password); needed beyond loopback; env QUEUE_CONSOLE_TOKEN
//   --allow-host NAME  a further Host header name to accept (repeatable)
//   --refresh SECONDS  how often the figures are sampled (default 5)
//   --stale-after SECONDS  a ready message this old and growing older is
//                      shown as a problem (default 60)
//
// It prints the URL when it listens.

const { createPool } = require('./lib/db');
const { createApp } = require('./lib/app');

function parseArgs(argv) {
  const o = {
    db: process.env.QUEUE_CONSOLE_DB || '',
    listen: '127.0.0.1',
    port: 8080,
    readOnly: false,
    token: process.env.QUEUE_CONSOLE_TOKEN || null,
    allowHosts: [],
    refresh: 5,
    staleAfter: 60,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    const number = (v, min) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < min) throw new Error(`${a} must be a number of at least ${min}`);
      return n;
    };
    switch (a) {
      case '--db': o.db = value(); break;
      case '--listen': o.listen = value(); break;
      case '--port': o.port = number(value(), 0); break;
      case '--read-only': o.readOnly = true; break;
      case '--token': o.token = value(); break;
      case '--allow-host': o.allowHosts.push(value()); break;
      case '--refresh': o.refresh = number(value(), 1); break;
      case '--stale-after': o.staleAfter = number(value(), 0); break;
      case '-h': case '--help':
        process.stdout.write(require('fs').readFileSync(__filename, 'utf8').split('\n').slice(2, 18)
          .map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
        process.exit(0);
        break;
      default: throw new Error(`unknown argument ${a} (see --help)`);
    }
  }
  return o;
}

async function main() {
  let o;
  let consoleApp;
  let pool;
  try {
    o = parseArgs(process.argv.slice(2));
    pool = createPool(o.db);
    consoleApp = createApp({ pool, readOnly: o.readOnly, token: o.token, listenHost: o.listen,
      allowHosts: o.allowHosts, refreshSeconds: o.refresh, staleAfter: o.staleAfter });
    const s = await pool.query(`SELECT current_user AS role, current_database() AS db, mq_version() AS v`);
    await consoleApp.sample();
    const server = consoleApp.app.listen(o.port, o.listen, () => {
      const addr = server.address();
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      process.stdout.write(`queue console ${s.rows[0].v}: database ${s.rows[0].db} as role ${s.rows[0].role}` +
        `${o.readOnly ? ', read-only' : ''}\nlistening on http://${host}:${addr.port}/\n`);
    });
    server.on('error', (e) => {
      process.stderr.write(`queue console: ${e.message}\n`);
      process.exit(1);
    });
    const stop = () => {
      consoleApp.close();
      server.close(() => pool.end().then(() => process.exit(0)));
      setTimeout(() => process.exit(0), 2000).unref();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } catch (e) {
    process.stderr.write(`queue console: ${e.message}\n`);
    if (consoleApp) consoleApp.close();
    if (pool) await pool.end().catch(() => {});
    process.exit(1);
  }
}

if (require.main === module) main();

module.exports = { parseArgs };
