// SIGTERM and Ctrl-C for the worker and the relay: set state.stopping, so
// that the program ends after the work in hand, and when it is waiting in a
// long poll (state.polling), end that at once with pg_cancel_backend() from
// a second, short-lived connection.  A cancelled mq_read raises 57014 and
// leaves no lease behind.
import pg from 'pg';

export function stopOnSignals(client, state, log) {
  async function stop() {
    state.stopping = true;
    if (state.polling) {
      const canceller = new pg.Client();
      await canceller.connect();
      await canceller.query('SELECT pg_cancel_backend($1)', [client.processID]);
      await canceller.end();
    }
  }
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => stop().catch((err) => log(`cannot cancel the long poll: ${err.message}`)));
  }
}
