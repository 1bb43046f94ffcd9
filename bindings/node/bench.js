'use strict';
// The Node.js benchmark of netmesh (make bench-node), the same figures as the C one.
//
//   node bench.js [DATA_DIR]     (default build/bench-node-data)
//
// - calls/s of a call on an invalid handle: the binding's bare cost per call
//   (a koffi .async call on a libuv worker, the cgo entry, the error object);
// - calls/s of bus.stats() and of an empty bus.poll() on 1 and on 16 shards, one
//   call at a time (await in a loop), and of an empty poll with 8 calls in flight;
// - events/s of bus.publish with 1000-event batches of ~200-byte events (objects
//   encoded by the binding), on file storage and on memory storage.
//
// bindings/wasm/bench.js requires it for its figures' common part: rate,
// makeBatch and publishRate (main runs only as `node bench.js`).
const fs = require('node:fs');
const netmesh = require('./index.js');

const SECONDS = 2.0;
const BATCH = 1000;
const EVENT_BYTES = 200;

async function rate(call, inFlight = 1) {
  let n = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      await call();
      n++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return n / ((performance.now() - start) / 1000);
}

// BATCH events of about EVENT_BYTES each once encoded (padded in "note").
function makeBatch(first) {
  const sample = { seq: first, type: 'order.created', user: 'user-100', amount: 100.25, note: '' };
  const note = 'x'.repeat(Math.max(EVENT_BYTES - JSON.stringify(sample).length, 0));
  const events = [];
  for (let seq = first; seq < first + BATCH; seq++) {
    events.push({ seq, type: 'order.created', user: `user-${seq % 977}`, amount: (seq % 10000) + 0.25, note });
  }
  return events;
}

async function publishRate(bus) {
  let events = 0;
  const start = performance.now();
  while (performance.now() - start < SECONDS * 1000) {
    const r = await bus.publish(makeBatch(events));
    if (r.published !== BATCH) throw new Error(`published ${r.published} of ${BATCH}`);
    events += BATCH;
  }
  return { rate: events / ((performance.now() - start) / 1000), events };
}

const line = (what, value, unit) => console.log(`  ${what.padEnd(62)} ${value.toFixed(0).padStart(9)} ${unit}`);

async function main() {
  const dataDir = process.argv[2] || 'build/bench-node-data';
  fs.rmSync(dataDir, { recursive: true, force: true });
  const { version } = await netmesh.libraryVersion();
  console.log(`libnetmesh ${version} Node.js ${process.version} benchmark (koffi .async), ` +
    `embedded server, ${SECONDS} s per figure`);

  const native = netmesh._load();
  const out = [null];
  const invalid = () => new Promise((resolve, reject) => native.fns.stats.async(0n, out,
    (err, status) => (err ? reject(err) : resolve(status))));
  line('invalid handle: the bare cost of a call through the binding', await rate(invalid), 'calls/s');

  for (const [store, shards] of [[1, 1], [2, 16]]) {
    const bus = await netmesh.Bus.open({ embedded: { store_dir: `${dataDir}/${store}`, memory: true }, shards });
    if (shards === 1) line('bus.stats()', await rate(() => bus.stats()), 'calls/s');
    // One event per shard, then polls from the end: each asks every shard once
    // and finds nothing.
    for (let k = 0; k < shards; k++) await bus.publish([k], { shard: k });
    const { nextCursor: cursor } = await bus.poll({ limit: 100 });
    const what = `bus.poll() at the end, ${shards} shard${shards > 1 ? 's (one get per shard)' : ''}`;
    line(what, await rate(() => bus.poll({ cursor })), 'calls/s');
    line(`${what.replace('bus.poll() at the end', 'bus.poll() at the end, 8 in flight')}`, await rate(() => bus.poll({ cursor }), 8), 'calls/s');
    await bus.close();
  }
  for (const [store, memory] of [[3, false], [4, true]]) {
    const bus = await netmesh.Bus.open({ embedded: { store_dir: `${dataDir}/${store}`, memory }, shards: 16 });
    line(`bus.publish, ${BATCH} x ${EVENT_BYTES}-byte events, 16 shards, ${memory ? 'memory' : 'file'}`,
      (await publishRate(bus)).rate, 'events/s');
    await bus.close();
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
}

module.exports = { SECONDS, BATCH, EVENT_BYTES, rate, makeBatch, publishRate };

if (require.main === module) main().catch((err) => { console.error(err); process.exit(1); });
