'use strict';
// Times Node BullMQ's FlowProducer.add of one parent with N children, for
// bench/flows_limits.py; prints {"parent": id, "add_ms": [...one per rep]}.
//   node bench/node/flow.js '{"url": ..., "queue": parent queue, "childQueue": ...,
//                             "children": 1000, "reps": 1, "prefix": "bull"}'
const { FlowProducer } = require('bullmq');
const { params, watchdog, payload, connect, report } = require('./common');

async function main() {
  const p = params();
  watchdog(p.maxSeconds || 600);
  const connection = connect(p.url);
  const flows = new FlowProducer({ connection, prefix: p.prefix });
  const times = [];
  let parent = null;
  for (let rep = 0; rep < (p.reps || 1); rep++) {
    const children = [];
    for (let i = 0; i < p.children; i++) {
      children.push({ name: 'child', queueName: p.childQueue, data: payload(i) });
    }
    const start = process.hrtime.bigint();
    const tree = await flows.add({ name: 'parent', queueName: p.queue, data: payload(-1),
      children });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    parent = tree.job.id;
  }
  await flows.close();
  await connection.quit();
  report({ parent, add_ms: times });
}

main().catch(err => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
