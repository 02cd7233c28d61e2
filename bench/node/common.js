'use strict';
// Shared by the benchmark's Node scripts: arguments, a watchdog, the payload,
// and the Redis connection. Run from the project root:
//   node bench/node/<script>.js '<json parameters>'

const IORedis = require('ioredis');

// Parameters arrive as one JSON argument; "url" and "queue" are always there.
function params() {
  const raw = process.argv[2];
  if (!raw) {
    process.stderr.write('usage: node <script> \'{"url": ..., "queue": ..., ...}\'\n');
    process.exit(2);
  }
  const p = JSON.parse(raw);
  p.prefix = p.prefix || 'bull';
  return p;
}

// Never outlive the benchmark: exit after maxSeconds whatever happens.
function watchdog(seconds) {
  const timer = setTimeout(() => {
    process.stderr.write(`watchdog: still running after ${seconds} s, exiting\n`);
    process.exit(3);
  }, seconds * 1000);
  timer.unref();
}

// The same ~100-byte JSON document the Python side builds in throughput.py.
const FILLER = 'x'.repeat(56);
function payload(i) {
  return { index: i, kind: 'benchmark', body: FILLER };
}

function connect(url, extra) {
  return new IORedis(url, { maxRetriesPerRequest: null, ...(extra || {}) });
}

function report(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

module.exports = { params, watchdog, payload, connect, report };
