// netmesh from Node.js as an ES module: the same steps as example.js, shorter.
//
//   node examples/node/example.mjs [STORE_DIR]          (default build/demo-node-data)
import { Bus } from '../../bindings/node/index.mjs'; // installed: from 'netmesh'

const bus = await Bus.open({ embedded: { store_dir: process.argv[2] ?? 'build/demo-node-data' } });
try {
  const { nextCursor } = await bus.poll({ start: 'latest', limit: 1 });
  await bus.publish([{ hello: 'from ESM' }, { n: 2 }]);
  for await (const e of bus.consume({ cursor: nextCursor, waitMs: 500, stopAtEnd: true })) {
    console.log(`  shard ${e.shard}  id ${e.id}  ${JSON.stringify(e.data)}`);
  }
} finally {
  await bus.close();
}
