'use strict';
// Shared helpers of the interop scripts: argument parsing, a safety timer,
// and a plain-JSON view of a BullMQ job.

function parseArgs() {
  const [url, queueName, json] = process.argv.slice(2);
  if (!url || !queueName) {
    process.stderr.write('usage: node <script> <redis url> <queue name> [json]\n');
    process.exit(2);
  }
  return { url, queueName, params: json ? JSON.parse(json) : {} };
}

// Whatever the caller does, the process ends after INTEROP_MAX_MS.
function armWatchdog() {
  const limit = Number(process.env.INTEROP_MAX_MS || 30000);
  const timer = setTimeout(() => {
    process.stderr.write(`watchdog: still running after ${limit} ms, exiting\n`);
    process.exit(3);
  }, limit);
  timer.unref();
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function describeJob(job) {
  if (!job) {
    return null;
  }
  return {
    id: job.id,
    name: job.name,
    data: job.data,
    opts: job.opts,
    progress: job.progress,
    returnvalue: job.returnvalue === undefined ? null : job.returnvalue,
    attemptsMade: job.attemptsMade,
    attemptsStarted: job.attemptsStarted,
    stalledCounter: job.stalledCounter,
    timestamp: job.timestamp,
    processedOn: job.processedOn === undefined ? null : job.processedOn,
    finishedOn: job.finishedOn === undefined ? null : job.finishedOn,
    failedReason: job.failedReason === undefined ? null : job.failedReason,
    stacktrace: job.stacktrace,
    delay: job.delay,
    priority: job.priority,
    state: await job.getState(),
  };
}

module.exports = { parseArgs, armWatchdog, emit, describeJob };
