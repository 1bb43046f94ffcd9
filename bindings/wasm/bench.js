// The wasm benchmark (make bench-wasm): the size of build/netmesh.wasm, and
// publish and poll rates from Node of the wasm over WebSocket beside the Node
// FFI binding (koffi) in the same run, on one embedded memory server:
//
//   node bench.js [DATA_DIR]     (default build/bench-wasm-data)
//
// - FFI in-process: the bus that runs the embedded server;
// - FFI nats://: the C library over a loopback TCP connection to it;
// - wasm ws://: this package over a loopback WebSocket to it (ws package).
// Each client has its own prefix, 16 shards: publish of 1000 x ~200-byte events
// (objects encoded by the binding), a read of everything in polls of 1000, and
// empty polls at the end, one call at a time.
import { createRequire } from 'node:module';
import { readFileSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { WebSocket } from 'ws';
import { Bus, wasmVersion } from './index.js';

const require = createRequire(import.meta.url);
const native = require('../node/index.js');
// The Node benchmark's batches, publish loop and call rate.
const { SECONDS, rate, publishRate } = require('../node/bench.js');

async function readRate(bus, total) {
  let cursor;
  let events = 0;
  const start = performance.now();
  for (;;) {
    const page = await bus.poll({ limit: 1000, cursor });
    events += page.events.length;
    cursor = page.nextCursor;
    if (!page.hasMore) break;
  }
  if (events !== total) throw new Error(`read ${events} of ${total}`);
  return { rate: events / ((performance.now() - start) / 1000), cursor };
}

const fmt = (v) => v.toFixed(0).padStart(10);

async function main() {
  const dataDir = process.argv[2] || 'build/bench-wasm-data';
  rmSync(dataDir, { recursive: true, force: true });
  const wasmPath = process.env.NETMESH_WASM || new URL('../../build/netmesh.wasm', import.meta.url);
  const bytes = readFileSync(wasmPath);
  console.log(`netmesh.wasm: ${bytes.length} bytes, ${gzipSync(bytes, { level: 9 }).length} gzipped (-9)`);

  const host = await native.Bus.open({
    embedded: { store_dir: dataDir, memory: true, listen: '127.0.0.1:0', websocket: { listen: '127.0.0.1:0' } },
    shards: 16, prefix: 'ffi_inproc', log_level: 'error',
  });
  const { server } = await host.stats();
  let start = performance.now();
  const version = await wasmVersion();
  console.log(`netmesh ${version}, Node.js ${process.version}; loading and starting the wasm: ` +
    `${(performance.now() - start).toFixed(0)} ms; ${SECONDS} s per figure`);
  const tcp = await native.Bus.open({ url: server.url, shards: 16, prefix: 'ffi_tcp', log_level: 'error' });
  start = performance.now();
  const wasm = await Bus.open({ url: server.websocket_url, shards: 16, prefix: 'wasm_ws', log_level: 'error' }, { WebSocket });
  console.log(`wasm Bus.open over ws:// (connect, JetStream check): ${(performance.now() - start).toFixed(0)} ms`);

  console.log(`\n  ${'client'.padEnd(18)} ${'publish ev/s'.padStart(14)} ${'poll ev/s'.padStart(10)} ${'empty polls/s'.padStart(14)}`);
  for (const [name, bus] of [['FFI in-process', host], ['FFI nats://', tcp], ['wasm ws://', wasm]]) {
    const pub = await publishRate(bus);
    const read = await readRate(bus, pub.events);
    const empty = await rate(() => bus.poll({ cursor: read.cursor }));
    console.log(`  ${name.padEnd(18)} ${fmt(pub.rate)}     ${fmt(read.rate)} ${fmt(empty)}`);
  }
  await wasm.close();
  await tcp.close();
  await host.close();
  rmSync(dataDir, { recursive: true, force: true });
}

main().catch((err) => { console.error(err); process.exit(1); });
