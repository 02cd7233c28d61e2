'use strict';
// A Node BullMQ Worker for the interop tests. What a job does depends on
// job.data.mode (else the job name):
//   echo (default)  return {echo: data, by: "node"}
//   fail            throw Error(data.message || "node boom")
//   flaky           throw while attemptsMade < (data.failTimes || 1), then echo
//   block           wait until "release" arrives on stdin, then echo
//   progress        report every value of data.progress, then echo
//   log             write every line of data.lines to the job log, then echo
//   children        return the children's values (a flow parent)
// Prints JSON lines: {"event": "ready"}, then active / completed / failed.
// Stdin commands: "release" (let blocked jobs finish), "close" (close, exit).
//   node worker.js <redis url> <queue name> '{"concurrency": 1, ...worker options}'
const readline = require('readline');
const { Worker } = require('bullmq');
const { parseArgs, armWatchdog, emit } = require('./lib');

let released = false;
const waiters = [];

function untilReleased() {
  if (released) {
    return Promise.resolve();
  }
  return new Promise(resolve => waiters.push(resolve));
}

async function processor(job) {
  const data = job.data || {};
  const mode = data.mode || job.name;
  if (mode === 'fail') {
    throw new Error(data.message || 'node boom');
  }
  if (mode === 'flaky' && job.attemptsMade < (data.failTimes || 1)) {
    throw new Error(`flaky failure ${job.attemptsMade + 1}`);
  }
  if (mode === 'block') {
    await untilReleased();
  }
  if (mode === 'progress') {
    for (const value of data.progress || []) {
      await job.updateProgress(value);
    }
  }
  if (mode === 'log') {
    for (const line of data.lines || []) {
      await job.log(line);
    }
  }
  if (mode === 'children') {
    return { children: await job.getChildrenValues(), by: 'node' };
  }
  return { echo: data, by: 'node', attemptsMade: job.attemptsMade };
}

async function main() {
  armWatchdog();
  const { url, queueName, params } = parseArgs();
  const worker = new Worker(queueName, processor, {
    connection: { url, maxRetriesPerRequest: null },
    autorun: false,
    ...params,
  });
  worker.on('active', job => emit({ event: 'active', id: job.id }));
  worker.on('completed', (job, result) => emit({ event: 'completed', id: job.id, result }));
  worker.on('failed', (job, err) =>
    emit({ event: 'failed', id: job && job.id, reason: err.message,
      attemptsMade: job && job.attemptsMade }));
  worker.on('error', err => emit({ event: 'error', message: String(err && err.message) }));

  let closing = null;
  const close = () => {
    if (!closing) {
      released = true;
      waiters.splice(0).forEach(resolve => resolve());
      closing = worker.close().then(() => {
        emit({ event: 'closed' });
        process.exit(0);
      });
    }
    return closing;
  };
  const input = readline.createInterface({ input: process.stdin });
  input.on('line', line => {
    const command = line.trim();
    if (command === 'release') {
      released = true;
      waiters.splice(0).forEach(resolve => resolve());
    } else if (command === 'close') {
      close();
    }
  });
  input.on('close', close);
  process.on('SIGTERM', close);

  const running = worker.run();
  await worker.waitUntilReady();
  emit({ event: 'ready', id: worker.id });
  await running;
}

main().catch(err => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
