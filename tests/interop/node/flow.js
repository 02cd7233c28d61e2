'use strict';
// FlowProducer operations for the interop tests; prints one JSON result.
//   node flow.js <redis url> <any queue name> '{"op": "add", "flow": {...}}'
//   ops: add (the tree as Node's FlowProducer.add takes it; prints the ids as
//   a tree), getFlow ({id, queueName}), dependencies ({id, queueName}: the
//   job's getDependencies, getDependenciesCount and getChildrenValues),
//   remove ({id, queueName}).
const { FlowProducer, Queue } = require('bullmq');
const { parseArgs, armWatchdog, emit } = require('./lib');

function ids(node) {
  return {
    id: node.job.id,
    name: node.job.name,
    queueName: node.job.queueName,
    children: (node.children || []).map(ids),
  };
}

async function main() {
  armWatchdog();
  const { url, params } = parseArgs();
  const connection = { url, maxRetriesPerRequest: null };
  const flows = new FlowProducer({ connection });
  const queues = [];
  const queue = name => {
    const q = new Queue(name, { connection });
    queues.push(q);
    return q;
  };
  try {
    if (params.op === 'add') {
      emit(ids(await flows.add(params.flow)));
    } else if (params.op === 'getFlow') {
      const tree = await flows.getFlow({ id: params.id, queueName: params.queueName });
      emit(tree ? ids(tree) : null);
    } else if (params.op === 'dependencies') {
      const job = await queue(params.queueName).getJob(params.id);
      emit({
        dependencies: await job.getDependencies(),
        counts: await job.getDependenciesCount(),
        values: await job.getChildrenValues(),
        ignored: await job.getIgnoredChildrenFailures(),
      });
    } else if (params.op === 'remove') {
      emit(await queue(params.queueName).remove(params.id));
    } else {
      throw new Error(`unknown op ${params.op}`);
    }
  } finally {
    await flows.close();
    await Promise.all(queues.map(q => q.close()));
  }
}

main().catch(err => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
