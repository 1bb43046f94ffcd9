'use strict';
// netmesh's Node binding publishing the events file, for bench/peers.
//
//   node mesh_pub.js URL PREFIX SHARDS EVENTS_FILE
//
// The events are parsed into objects before the clock starts; the binding
// encodes them inside the timing, one awaited 1000-event publish after another.
// Streams are created at open (create_streams "init"), outside the timing.
// Prints {"count":N,"seconds":S}.
const fs = require('node:fs');
const path = require('node:path');
const netmesh = require(path.join(__dirname, '..', '..', '..', 'bindings', 'node'));

const BATCH = 1000;

async function main() {
  const [url, prefix, shards, file] = process.argv.slice(2);
  const events = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
  const bus = await netmesh.Bus.open({ url, prefix, shards: Number(shards), create_streams: 'init', log_level: 'error' });
  const start = performance.now();
  for (let i = 0; i < events.length; i += BATCH) {
    const chunk = events.slice(i, i + BATCH);
    const r = await bus.publish(chunk);
    if (r.published !== chunk.length) throw new Error(`published ${r.published} of ${chunk.length}`);
  }
  const seconds = (performance.now() - start) / 1000;
  await bus.close();
  console.log(JSON.stringify({ count: events.length, seconds }));
}

main().catch((err) => { console.error(err); process.exit(1); });
