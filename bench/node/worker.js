'use strict';
// A Node BullMQ Worker with a no-op async processor, for throughput.py.
//   node bench/node/worker.js '{"url": ..., "queue": ..., "prefix": ..., "concurrency": 1,
//                               "maxSeconds": 600, "limiter": {"max": .., "duration": ..}}'
// Runs until SIGTERM / SIGINT (or maxSeconds).
const { Worker } = require('bullmq');
const { params, watchdog, connect } = require('./common');

function main() {
  const p = params();
  watchdog(p.maxSeconds || 600);
  const worker = new Worker(p.queue, async () => undefined, {
    connection: connect(p.url),
    prefix: p.prefix,
    concurrency: p.concurrency || 1,
    ...(p.limiter ? { limiter: p.limiter } : {}),
  });
  worker.on('error', err => process.stderr.write(`worker error: ${err && err.message}\n`));
  let closing = false;
  const stop = () => {
    if (closing) {
      return;
    }
    closing = true;
    worker.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
