'use strict';
/*
 * A consumer group member in Node (examples/group): poll the group, handle the
 * batch, commit it; stop on SIGTERM, which commits the batch in hand and leaves
 * the group (closing the bus hands this member's shards to the others at once).
 *
 *   node examples/group/member.js URL GROUP NAME
 *
 * It reports to run.py on stdout, one line each: `assigned K,K,..|-` when its
 * shards change, `batch COUNT SUM` per handled batch (the sum of the events'
 * "n"), `bye TOTAL` when it left.
 */
const path = require('path');
const { Bus } = require(path.join(__dirname, '..', '..', 'bindings', 'node'));

async function main() {
  const [url, group, name] = process.argv.slice(2);
  if (!name) {
    process.stderr.write('usage: node member.js URL GROUP NAME\n');
    return 2;
  }
  let stopping = false;
  process.on('SIGTERM', () => { stopping = true; });

  const bus = await Bus.open({ url, shards: 6 });
  let total = 0;
  let assigned = null;
  try {
    while (!stopping) {
      const batch = await bus.poll({ group, member: name, limit: 100, waitMs: 500 });
      const now = batch.assigned.length ? batch.assigned.join(',') : '-';
      if (now !== assigned) {
        assigned = now;
        console.log(`assigned ${assigned}`);
      }
      if (batch.events.length === 0) continue;
      // Handle the batch (here: add up "n"), then commit it.
      total += batch.events.length;
      const sum = batch.events.reduce((acc, e) => acc + e.data.n, 0);
      await bus.commit(batch.nextCursor, { group });
      console.log(`batch ${batch.events.length} ${sum}`);
    }
  } finally {
    await bus.close();
  }
  console.log(`bye ${total}`);
  return 0;
}

main().then((status) => { process.exitCode = status; }, (err) => {
  process.stderr.write(`member.js: ${err.stack || err}\n`);
  process.exitCode = 1;
});
