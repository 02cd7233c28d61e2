'use strict';
// Prints every event a Node QueueEvents receives as a JSON line:
// {"event": name, "eventId": stream id, ...fields}. Reads the stream from
// params.lastEventId ("0-0" by default: the test queues are new). Prints
// {"event": "__ready__"} once connected; "close" on stdin (or EOF) stops it.
//   node events.js <redis url> <queue name> '{"lastEventId": "0-0"}'
const readline = require('readline');
const { QueueEvents } = require('bullmq');
const { parseArgs, armWatchdog, emit } = require('./lib');

const NAMES = ['added', 'waiting', 'active', 'progress', 'completed', 'failed', 'delayed',
  'drained', 'removed', 'cleaned', 'paused', 'resumed', 'stalled', 'retries-exhausted',
  'duplicated', 'deduplicated', 'waiting-children'];

async function main() {
  armWatchdog();
  const { url, queueName, params } = parseArgs();
  const events = new QueueEvents(queueName, {
    connection: { url, maxRetriesPerRequest: null },
    lastEventId: params.lastEventId || '0-0',
    blockingTimeout: 1000,
  });
  for (const name of NAMES) {
    if (name === 'drained') {
      events.on(name, eventId => emit({ event: name, eventId }));
    } else {
      events.on(name, (args, eventId) => emit({ event: name, eventId, ...args }));
    }
  }
  let closing = null;
  const close = () => {
    if (!closing) {
      closing = events.close().then(() => process.exit(0));
    }
    return closing;
  };
  const input = readline.createInterface({ input: process.stdin });
  input.on('line', line => { if (line.trim() === 'close') { close(); } });
  input.on('close', close);
  process.on('SIGTERM', close);
  await events.waitUntilReady();
  emit({ event: '__ready__' });
}

main().catch(err => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
