'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { netmesh, config, openBus, libraryErrors } = require('./helpers');

const { Bus, RawEvent } = netmesh;

test('publish then poll returns every event once, following the cursor', async (t) => {
  const bus = await openBus(t, { shards: 4 });
  const events = Array.from({ length: 50 }, (_, i) => ({ n: i, name: `event-${i}`, ok: i % 2 === 0 }));
  const result = await bus.publish(events);
  assert.deepEqual(result, { published: 50, duplicates: 0 });
  const seen = [];
  let cursor;
  for (let i = 0; i < 100; i++) {
    const batch = await bus.poll({ limit: 7, cursor });
    assert.ok(batch.events.length <= 7);
    seen.push(...batch.events);
    cursor = batch.nextCursor;
    if (batch.events.length === 0 && !batch.hasMore) break;
  }
  assert.deepEqual(seen.map((e) => e.data.n).sort((a, b) => a - b), events.map((e) => e.n));
  for (const e of seen) {
    assert.equal(typeof e.id, 'string');
    assert.match(e.id, /^[1-9][0-9]*$/);
    assert.equal(typeof e.ts, 'string');
    assert.ok(BigInt(e.ts) > 1_600_000_000n * 1_000_000_000n);
    assert.ok(e.shard >= 0 && e.shard < 4);
    assert.deepEqual(e.data, events[e.data.n]);
  }
  for (let shard = 0; shard < 4; shard++) {
    const ids = seen.filter((e) => e.shard === shard).map((e) => BigInt(e.id));
    assert.deepEqual(ids, [...ids].sort((a, b) => (a < b ? -1 : 1)));
  }
  assert.equal(await libraryErrors(bus), 0);
});

test('JSON values of every kind survive', async (t) => {
  const bus = await openBus(t, { shards: 1 });
  const values = [{ a: { b: [1, 2.5, null, true] } }, [1, 'two'], 'plain', 42, -1.25, true, false,
    { unicode: 'h\u00e9llo \u2603 \u{1F600}', nul: 'a\u0000b' }];
  await bus.publish(values);
  const got = (await bus.poll()).events.map((e) => e.data);
  assert.deepEqual(got, values);
});

test('RawEvent is stored as given', async (t) => {
  const bus = await openBus(t, { shards: 1 });
  await bus.publish([new RawEvent('  {"z": 1, "a": 2.50}\n'), new RawEvent(Buffer.from('[1,2]')), { normal: true }]);
  const got = (await bus.poll()).events.map((e) => e.data);
  assert.deepEqual(got, [{ z: 1, a: 2.5 }, [1, 2], { normal: true }]);
  assert.deepEqual(Object.keys(got[0]), ['z', 'a']);
});

test('shard, batchId, acks and duplicates', async (t) => {
  const bus = await openBus(t, { shards: 8 });
  const first = await bus.publish([{ k: 1 }, { k: 2 }], { shard: 5, batchId: 'order-17', acks: true });
  assert.equal(first.published, 2);
  assert.deepEqual(first.acks, [{ shard: 5, seq: '1', duplicate: false }, { shard: 5, seq: '2', duplicate: false }]);
  const again = await bus.publish([{ k: 1 }, { k: 2 }], { shard: 5n, batchId: 'order-17', acks: true });
  assert.deepEqual([again.published, again.duplicates], [0, 2]);
  assert.ok(again.acks.every((a) => a.duplicate));
  assert.deepEqual((await bus.poll({ shard: 5 })).events.map((e) => e.data.k), [1, 2]);
  assert.equal((await bus.poll({ shard: 4 })).events.length, 0);
});

test('start latest and waitMs', async (t) => {
  const bus = await openBus(t, { shards: 2 });
  await bus.publish([1, 2, 3]);
  const atEnd = await bus.poll({ start: 'latest', limit: 1 });
  assert.equal(atEnd.events.length, 0);
  await bus.publish([4]);
  const after = await bus.poll({ cursor: atEnd.nextCursor, waitMs: 2000 });
  assert.deepEqual(after.events.map((e) => e.data), [4]);
  const empty = await bus.poll({ cursor: after.nextCursor, waitMs: 200 });
  assert.equal(empty.events.length, 0);
  assert.equal(empty.hasMore, false);
});

test('publish accepts any iterable: arrays, Sets, generators', async (t) => {
  const bus = await openBus(t, { shards: 1 });
  assert.equal((await bus.publish(new Set([1, 2]))).published, 2);
  assert.equal((await bus.publish((function* gen() { yield 3; yield 4; yield 5; })())).published, 3);
  assert.equal((await bus.publish([])).published, 0);
  assert.deepEqual((await bus.poll()).events.map((e) => e.data), [1, 2, 3, 4, 5]);
});

test('stats, handle, close twice', async (t) => {
  const bus = await Bus.open(config(t, { shards: 3, prefix: 'nodetest' }));
  assert.equal(typeof bus.handle, 'bigint');
  await bus.publish([1, 2]);
  await bus.poll();
  const stats = await bus.stats();
  assert.equal(stats.published, 2);
  assert.equal(stats.polled, 2);
  assert.equal(stats.shards, 3);
  assert.equal(stats.prefix, 'nodetest');
  assert.equal(stats.embedded, true);
  assert.equal(bus.closed, false);
  await bus.close();
  assert.equal(bus.closed, true);
  await bus.close();
});

test('library lookup order and version', async () => {
  const paths = netmesh.candidatePaths();
  const pkg = path.resolve(__dirname, '..');
  const withoutEnv = process.env.NETMESH_LIBRARY ? paths.slice(1) : paths;
  assert.equal(withoutEnv[0], path.join(pkg, 'prebuilds', `${process.platform}-${process.arch}`, 'libnetmesh.so'));
  assert.equal(withoutEnv[1], 'libnetmesh.so.0');
  assert.equal(withoutEnv[2], path.join(pkg, 'build', 'libnetmesh.so'));
  assert.ok(withoutEnv.includes(path.resolve(pkg, '../../build/libnetmesh.so')));
  const saved = process.env.NETMESH_LIBRARY;
  try {
    process.env.NETMESH_LIBRARY = '/nonexistent/libnetmesh.so';
    assert.throws(() => netmesh.findLibrary(), /NETMESH_LIBRARY/);
  } finally {
    if (saved === undefined) delete process.env.NETMESH_LIBRARY; else process.env.NETMESH_LIBRARY = saved;
  }
  const { version, abi } = await netmesh.libraryVersion();
  assert.match(version, /^\d+\.\d+\.\d+/);
  assert.equal(abi, netmesh.ABI_VERSION);
});

test('the ES module entry exports the same objects', async () => {
  const esm = await import('../index.mjs');
  assert.equal(esm.Bus, Bus);
  assert.equal(esm.MeshError, netmesh.MeshError);
  assert.equal(esm.default.RawEvent, RawEvent);
});
