'use strict';
// The Node smoke test of the installed npm package, through require
// (tests/dist/run.sh): node smoke.cjs VERSION STORE_DIR, from the folder the
// package was installed in, with no NETMESH_* variables.
const path = require('node:path');
const netmesh = require('netmesh');

async function main(version, storeDir) {
  const pkg = path.dirname(require.resolve('netmesh/package.json'));
  const found = netmesh.findLibrary();
  const want = path.join(pkg, 'prebuilds', `${process.platform}-${process.arch}`, 'libnetmesh.so');
  if (found !== want || !pkg.includes(`${path.sep}node_modules${path.sep}`)) {
    throw new Error(`loaded ${found}, not the package's copy ${want}`);
  }
  const pkgVersion = require('netmesh/package.json').version;
  if (pkgVersion !== version) throw new Error(`package version ${pkgVersion}, want ${version}`);
  const bus = await netmesh.Bus.open({ embedded: { store_dir: storeDir }, shards: 2 });
  let result;
  let batch;
  try {
    result = await bus.publish([{ lang: 'node-require' }], { batchId: 'smoke-require' });
    batch = await bus.poll({ limit: 10, waitMs: 5000 });
  } finally {
    await bus.close();
  }
  const data = JSON.stringify(batch.events.map((e) => e.data));
  if (result.published !== 1 || data !== '[{"lang":"node-require"}]') {
    throw new Error(`published ${JSON.stringify(result)}, polled ${data}`);
  }
  const lib = await netmesh.libraryVersion();
  if (lib.version !== version || lib.abi !== netmesh.ABI_VERSION) throw new Error(`library ${JSON.stringify(lib)}`);
  console.log(`smoke (Node, require): published and polled one event with libnetmesh ${lib.version} from ${found}`);
}

main(process.argv[2], process.argv[3]).catch((err) => {
  console.error(`smoke (Node, require): ${err.stack || err}`);
  process.exit(1);
});
