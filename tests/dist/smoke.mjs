// The Node smoke test of the installed npm package, through import
// (tests/dist/run.sh): node smoke.mjs VERSION STORE_DIR, from the folder the
// package was installed in, with no NETMESH_* variables.
import path from 'node:path';
import { createRequire } from 'node:module';
import netmeshDefault, { Bus, findLibrary, libraryVersion, ABI_VERSION } from 'netmesh';

const [version, storeDir] = process.argv.slice(2);
try {
  const pkg = path.dirname(createRequire(import.meta.url).resolve('netmesh/package.json'));
  const found = findLibrary();
  const want = path.join(pkg, 'prebuilds', `${process.platform}-${process.arch}`, 'libnetmesh.so');
  if (found !== want) throw new Error(`loaded ${found}, not the package's copy ${want}`);
  if (netmeshDefault.Bus !== Bus) throw new Error('the default export is not the named exports');
  const bus = await Bus.open({ embedded: { store_dir: storeDir }, shards: 2 });
  let result;
  let batch;
  try {
    result = await bus.publish([{ lang: 'node-import' }], { batchId: 'smoke-import' });
    batch = await bus.poll({ limit: 10, waitMs: 5000 });
  } finally {
    await bus.close();
  }
  const data = JSON.stringify(batch.events.map((e) => e.data));
  if (result.published !== 1 || data !== '[{"lang":"node-import"}]') {
    throw new Error(`published ${JSON.stringify(result)}, polled ${data}`);
  }
  const lib = await libraryVersion();
  if (lib.version !== version || lib.abi !== ABI_VERSION) throw new Error(`library ${JSON.stringify(lib)}`);
  console.log(`smoke (Node, import): published and polled one event with libnetmesh ${lib.version} from ${found}`);
} catch (err) {
  console.error(`smoke (Node, import): ${err.stack || err}`);
  process.exit(1);
}
