'use strict';
// N idle Node BullMQ Workers in one process, for bench/connections.py.
//   node bench/node/idle_workers.js '{"url": ..., "queue": ..., "prefix": ..., "workers": 50,
//                                     "shared": false, "maxSeconds": 600}'
// Worker i serves queue "<queue>-<i>". Each has a connection of its own, as
// bench/node/worker.js does; with "shared" every worker is given one IORedis
// instance (BullMQ then duplicates it for each blocking connection).
// Prints {"ready": true} once every worker is running; stops on SIGTERM / SIGINT.
const { Worker } = require('bullmq');
const { params, watchdog, connect, report } = require('./common');

async function main() {
  const p = params();
  watchdog(p.maxSeconds || 600);
  const shared = p.shared ? connect(p.url) : null;
  const workers = [];
  for (let i = 0; i < (p.workers || 50); i++) {
    const worker = new Worker(`${p.queue}-${i}`, async () => undefined, {
      connection: shared || connect(p.url),
      prefix: p.prefix,
    });
    worker.on('error', err => process.stderr.write(`worker error: ${err && err.message}\n`));
    workers.push(worker);
  }
  await Promise.all(workers.map(w => w.waitUntilReady()));
  report({ ready: true });
  let closing = false;
  const stop = () => {
    if (closing) {
      return;
    }
    closing = true;
    Promise.all(workers.map(w => w.close())).then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch(err => {
  process.stderr.write(`${err && err.stack}\n`);
  process.exit(1);
});
