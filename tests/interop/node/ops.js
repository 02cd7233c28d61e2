'use strict';
// Runs a list of Queue operations given as JSON and prints their results as
// one JSON array. A failing operation yields {"error": message} and the list
// goes on.
//   node ops.js <redis url> <queue name> '[{"op": "add", "name": "a"}, ...]'
const { Queue } = require('bullmq');
const { CronExpressionParser } = require('cron-parser');
const { parseArgs, armWatchdog, emit, describeJob } = require('./lib');

const handlers = {
  add: async (q, o) => (await q.add(o.name, o.data || {}, o.opts || {})).id,
  addBulk: async (q, o) => (await q.addBulk(o.jobs)).map(job => job.id),
  getJob: async (q, o) => describeJob(await q.getJob(o.id)),
  getState: async (q, o) => q.getJobState(o.id),
  getJobs: async (q, o) =>
    (await q.getJobs(o.types, o.start ?? 0, o.end ?? -1, o.asc ?? false)).map(j => j.id),
  getJobCounts: async (q, o) => q.getJobCounts(...(o.types || [])),
  count: async q => q.count(),
  getJobLogs: async (q, o) => q.getJobLogs(o.id, o.start ?? 0, o.end ?? -1, o.asc ?? true),
  pause: async q => { await q.pause(); return true; },
  resume: async q => { await q.resume(); return true; },
  isPaused: async q => q.isPaused(),
  retryJob: async (q, o) => {
    const job = await q.getJob(o.id);
    await job.retry(o.state || 'failed', o.opts || {});
    return true;
  },
  promote: async (q, o) => { await (await q.getJob(o.id)).promote(); return true; },
  retryJobs: async (q, o) => { await q.retryJobs(o.opts || {}); return true; },
  promoteJobs: async (q, o) => { await q.promoteJobs(o.opts || {}); return true; },
  setGlobalConcurrency: async (q, o) => { await q.setGlobalConcurrency(o.concurrency); return true; },
  getGlobalConcurrency: async q => q.getGlobalConcurrency(),
  removeGlobalConcurrency: async q => { await q.removeGlobalConcurrency(); return true; },
  setGlobalRateLimit: async (q, o) => { await q.setGlobalRateLimit(o.max, o.duration); return true; },
  getGlobalRateLimit: async q => q.getGlobalRateLimit(),
  removeGlobalRateLimit: async q => { await q.removeGlobalRateLimit(); return true; },
  rateLimit: async (q, o) => { await q.rateLimit(o.ms); return true; },
  getRateLimitTtl: async (q, o) => q.getRateLimitTtl(o.maxJobs),
  removeRateLimitKey: async q => q.removeRateLimitKey(),
  clean: async (q, o) => q.clean(o.grace, o.limit, o.type),
  drain: async (q, o) => { await q.drain(Boolean(o.delayed)); return true; },
  obliterate: async (q, o) => { await q.obliterate(o.opts || {}); return true; },
  remove: async (q, o) => q.remove(o.id),
  getWorkers: async q => q.getWorkers(),
  getMetrics: async (q, o) => q.getMetrics(o.type, o.start ?? 0, o.end ?? -1),
  getDeduplicationJobId: async (q, o) => q.getDeduplicationJobId(o.id),
  removeDeduplicationKey: async (q, o) => q.removeDeduplicationKey(o.id),
  sleep: async (q, o) => { await new Promise(r => setTimeout(r, o.ms)); return true; },
  upsertJobScheduler: async (q, o) => {
    const job = await q.upsertJobScheduler(o.id, o.repeat, o.template);
    return job ? { id: job.id, delay: job.delay } : null;
  },
  getJobScheduler: async (q, o) => (await q.getJobScheduler(o.id)) ?? null,
  getJobSchedulers: async (q, o) => q.getJobSchedulers(o.start ?? 0, o.end ?? -1, o.asc ?? false),
  getJobSchedulersCount: async q => q.getJobSchedulersCount(),
  removeJobScheduler: async (q, o) => q.removeJobScheduler(o.id),
  // o.runs next times of o.pattern in o.tz after each o.starts entry (cron-parser, as
  // BullMQ's default repeat strategy calls it)
  cronNext: async (q, o) => o.starts.map(start => {
    const it = CronExpressionParser.parse(o.pattern, { tz: o.tz, currentDate: new Date(start) });
    return Array.from({ length: o.runs }, () => it.next().getTime());
  }),
};

async function main() {
  armWatchdog();
  const { url, queueName, params } = parseArgs();
  const queue = new Queue(queueName, { connection: { url, maxRetriesPerRequest: null } });
  const results = [];
  try {
    for (const step of params) {
      const handler = handlers[step.op];
      if (!handler) {
        throw new Error(`unknown op ${step.op}`);
      }
      try {
        results.push(await handler(queue, step));
      } catch (err) {
        results.push({ error: String(err && err.message ? err.message : err) });
      }
    }
  } finally {
    await queue.close();
  }
  emit(results);
}

main().catch(err => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
