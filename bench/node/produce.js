'use strict';
// The Node BullMQ producer side of throughput.py. One JSON line on stdout.
//   node bench/node/produce.js '{"url", "queue", "prefix", "mode", "n", "chunk", "warmup"}'
// mode "one":     n sequential Queue.add calls          -> {"seconds", "cpu_s"}
// mode "bulk":    n jobs by Queue.addBulk, chunk at once -> {"seconds", "cpu_s"}
// mode "latency": warmup + n sequential jobs; each is added, then the events
//                 stream is read (XREAD BLOCK) until its "completed" event
//                 -> {"latencies_ms": [n numbers]}
const { Queue } = require('bullmq');
const { params, watchdog, payload, connect, report } = require('./common');

function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

// Seconds of wall time and of this process's CPU since `start`.
function since(start) {
  const cpu = process.cpuUsage(start.cpu);
  return { seconds: (nowMs() - start.t) / 1000, cpu_s: (cpu.user + cpu.system) / 1e6 };
}

function begin() {
  return { t: nowMs(), cpu: process.cpuUsage() };
}

async function addOne(queue, n) {
  const start = begin();
  for (let i = 0; i < n; i++) {
    await queue.add('bench', payload(i));
  }
  return since(start);
}

async function addBulk(queue, n, chunk) {
  const start = begin();
  for (let start = 0; start < n; start += chunk) {
    const batch = [];
    for (let i = start; i < Math.min(n, start + chunk); i++) {
      batch.push({ name: 'bench', data: payload(i) });
    }
    await queue.addBulk(batch);
  }
  return since(start);
}

// Read the events stream after `state.last` until the completed event of jobId.
async function untilCompleted(reader, eventsKey, state, jobId, deadline) {
  for (;;) {
    if (nowMs() > deadline) {
      throw new Error(`job ${jobId} not completed in time`);
    }
    const reply = await reader.xread('COUNT', 100, 'BLOCK', 1000, 'STREAMS', eventsKey,
      state.last);
    if (!reply) {
      continue;
    }
    let found = false;
    for (const [, entries] of reply) {
      for (const [id, fields] of entries) {
        state.last = id;
        let event = null;
        let job = null;
        for (let f = 0; f < fields.length; f += 2) {
          if (fields[f] === 'event') {
            event = fields[f + 1];
          } else if (fields[f] === 'jobId') {
            job = fields[f + 1];
          }
        }
        if (event === 'completed' && job === jobId) {
          found = true;
        }
      }
    }
    if (found) {
      return;
    }
  }
}

async function latency(queue, p) {
  const reader = connect(p.url);
  const eventsKey = `${p.prefix}:${p.queue}:events`;
  const state = { last: '0-0' };
  const out = [];
  const total = (p.warmup || 0) + p.n;
  for (let i = 0; i < total; i++) {
    // the first job also waits for the worker to start
    const deadline = nowMs() + (i === 0 ? 60000 : 10000);
    const t0 = nowMs();
    const job = await queue.add('bench', payload(i));
    await untilCompleted(reader, eventsKey, state, String(job.id), deadline);
    if (i >= (p.warmup || 0)) {
      out.push(nowMs() - t0);
    }
  }
  reader.disconnect();
  return { latencies_ms: out };
}

async function main() {
  const p = params();
  watchdog(p.maxSeconds || 600);
  const queue = new Queue(p.queue, { connection: connect(p.url), prefix: p.prefix });
  await queue.waitUntilReady();
  let result;
  if (p.mode === 'one') {
    result = await addOne(queue, p.n);
  } else if (p.mode === 'bulk') {
    result = await addBulk(queue, p.n, p.chunk || 1000);
  } else if (p.mode === 'latency') {
    result = await latency(queue, p);
  } else {
    throw new Error(`unknown mode ${p.mode}`);
  }
  report(result);
  await queue.close();
  process.exit(0);
}

main().catch(err => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
