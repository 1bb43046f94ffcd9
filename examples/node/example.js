'use strict';
// netmesh from Node.js: open the embedded bus, publish a few events, read them back
// by following the cursor, print them, read them as a consumer group, close.
//
//   node examples/node/example.js [STORE_DIR]          (default build/demo-node-data)
//   node examples/node/example.js --url nats://127.0.0.1:4222 --find MARKER
//
// The second form connects to a running server (e.g. another process's embedded
// server with "listen") and polls from the beginning until it finds an event whose
// "marker" field is MARKER; it is what the polyglot demo runs.
//
// Run from the repository root after `npm ci` in bindings/node; once the package is
// installed, require('netmesh') is enough. `make node-lint` type-checks this file
// against the package's index.d.ts (the JSDoc types below).

/** @type {typeof import('netmesh')} */
let netmesh;
try {
  netmesh = require('netmesh');
} catch {
  netmesh = require('../../bindings/node');
}

/** @param {string} storeDir */
async function demo(storeDir) {
  const { version, abi } = await netmesh.libraryVersion();
  console.log(`netmesh for Node.js, libnetmesh ${version} (ABI ${abi})`);

  const bus = await netmesh.Bus.open({ embedded: { store_dir: storeDir } });
  try {
    // A cursor at the current end of every shard: read back only this run's events.
    let cursor = (await bus.poll({ start: 'latest', limit: 1 })).nextCursor;

    const orders = Array.from({ length: 10 }, (_, i) => ({ order: i, item: `widget-${i % 7}`, qty: 1 + (i % 5) }));
    const result = await bus.publish(orders);
    console.log(`published ${result.published} events (${result.duplicates} duplicates)`);

    let read = 0;
    while (read < orders.length) {
      // waitMs: an empty poll waits up to 1 s for new events instead of spinning.
      const batch = await bus.poll({ cursor, limit: 4, waitMs: 1000 });
      for (const e of batch.events) {
        // id and ts are u64 decimal strings (BigInt(e.id) for arithmetic).
        console.log(`  shard ${String(e.shard).padStart(2)}  id ${e.id.padStart(3)}  ${JSON.stringify(e.data)}`);
      }
      read += batch.events.length;
      cursor = batch.nextCursor;
      if (batch.events.length === 0) throw new Error('no more events');
    }

    // A consumer group: its members share the shards, and the group keeps how far it
    // got under its name, across runs (consume commits each batch once its events are
    // handed out). It reads what came since its last run.
    let billed = 0;
    for await (const e of bus.consume({ group: 'demo-billing', limit: 100, waitMs: 100, stopAtEnd: true })) {
      void e;
      billed++;
    }
    const shards = (await bus.stats()).groups?.[0]?.assigned ?? [];
    console.log(`group demo-billing read ${billed} new events from ${shards.length} shards`);

    const stats = await bus.stats();
    console.log(`read back ${read} events; stats: published=${stats.published} polled=${stats.polled} healthy=${stats.healthy}`);
  } finally {
    await bus.close();
  }
  console.log('closed');
}

/**
 * @param {string} url
 * @param {string} marker
 * @returns {Promise<boolean>}
 */
async function find(url, marker) {
  const bus = await netmesh.Bus.open({ url, connect_timeout_ms: 5000 });
  try {
    // consume() follows the cursor from the earliest event; stopAtEnd ends it when
    // nothing more is there.
    // Events are any JSON: look for an object with the marker.
    for await (const e of bus.consume({ start: 'earliest', waitMs: 500, stopAtEnd: true })) {
      const data = e.data;
      if (typeof data === 'object' && data !== null && 'marker' in data && data.marker === marker) {
        const from = 'from' in data ? data.from : 'unknown';
        console.log(`node: found marker ${marker} (shard ${e.shard}, id ${e.id}, from ${from})`);
        return true;
      }
    }
    console.log(`node: marker ${marker} not found`);
    return false;
  } finally {
    await bus.close();
  }
}

/**
 * @param {string[]} argv
 * @returns {Promise<number>}
 */
async function main(argv) {
  const i = argv.indexOf('--url');
  if (i >= 0) {
    const j = argv.indexOf('--find');
    if (j < 0) throw new Error('--url needs --find MARKER');
    return (await find(argv[i + 1], argv[j + 1])) ? 0 : 1;
  }
  await demo(argv[0] || 'build/demo-node-data');
  return 0;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
  console.error(err);
  process.exitCode = 1;
});
