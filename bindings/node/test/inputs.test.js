'use strict';
// The binding checks JavaScript types (TypeError) before calling the library; the
// library checks values (ranges, formats): huge integers go through as JSON and
// come back as MeshError invalid_argument (errors.test.js).
const test = require('node:test');
const assert = require('node:assert/strict');
const { netmesh, openBus, libraryErrors } = require('./helpers');

const { Bus, RawEvent, MeshError } = netmesh;

const notMesh = (err) => err instanceof TypeError && !(err instanceof MeshError);

test('poll option types', async (t) => {
  const bus = await openBus(t, { shards: 2 });
  const bad = [
    { limit: '100' }, { limit: true }, { limit: 1.5 }, { limit: NaN }, { limit: Infinity },
    { shard: 1.5 }, { shard: '1' }, { shard: false },
    { cursor: Buffer.from('eyJ9') }, { cursor: 12 },
    { waitMs: '1' }, { waitMs: true }, { waitMs: 0.5 },
    { start: 1 }, { skipCorrupt: 1 }, { skipCorrupt: 'yes' }, { timeoutMs: '5' },
    { wait: 1000 }, // an unknown option is a typo, not ignored
  ];
  for (const opts of bad) {
    await assert.rejects(bus.poll(opts), notMesh, JSON.stringify(opts));
  }
  await assert.rejects(bus.poll('limit=5'), notMesh);
  // null, like undefined, means "not given": the default.
  assert.equal((await bus.poll({ limit: null, cursor: null, shard: undefined })).events.length, 0);
  await assert.rejects(bus.poll([5]), notMesh);
  assert.equal(await libraryErrors(bus), 0);
  assert.equal((await bus.stats()).polled, 0);
});

test('publish option types', async (t) => {
  const bus = await openBus(t, { shards: 2 });
  for (const opts of [{ shard: 1.5 }, { shard: '0' }, { shard: true }, { batchId: 123 },
    { batchId: Buffer.from('abc') }, { timeoutMs: '1' }, { acks: 1 }, { batch_id: 'x' }]) {
    await assert.rejects(bus.publish([1], opts), notMesh, JSON.stringify(opts));
  }
  assert.equal(await libraryErrors(bus), 0);
});

test('events must be an iterable of events, not a string or bytes', async (t) => {
  const bus = await openBus(t, { shards: 2 });
  for (const events of ['[{"a":1}]', new String('[1]'), Buffer.from('[1]'), new Uint8Array([1, 2]),
    new ArrayBuffer(2), { a: 1 }, 42, null, undefined, new RawEvent('[1]')]) {
    await assert.rejects(bus.publish(events), notMesh, String(events));
  }
  assert.equal(await libraryErrors(bus), 0);
  assert.equal((await bus.stats()).published, 0);
});

test('events that are not JSON', async (t) => {
  const bus = await openBus(t, { shards: 2 });
  await assert.rejects(bus.publish([1, 2n]), /events\[1\].*BigInt/);
  await assert.rejects(bus.publish([1, () => 1]), /events\[1\]/);
  await assert.rejects(bus.publish([undefined]), /events\[0\]/);
  await assert.rejects(bus.publish([Symbol('s')]), /events\[0\]/);
  await assert.rejects(bus.publish([Buffer.from('{"a":1}')]), /events\[0\].*RawEvent/);
  const cyclic = {}; cyclic.self = cyclic;
  await assert.rejects(bus.publish([cyclic]), /events\[0\].*circular/i);
  // Nested, and behind toJSON: a whole-array encoding must still name the event.
  await assert.rejects(bus.publish([1, { a: [2n] }]), /events\[1\].*BigInt/);
  await assert.rejects(bus.publish([1, 2, { toJSON: () => undefined }]), /events\[2\]/);
  function* failing() { yield 1; throw new RangeError('generator broke'); }
  await assert.rejects(bus.publish(failing()), /generator broke/);
  assert.equal(await libraryErrors(bus), 0);
  assert.equal((await bus.stats()).published, 0);
});

test('RawEvent checks its text', () => {
  for (const bad of ['', '{', '{"a":1} {"b":2}', 'NaN', '[1,]', '1 2', '1],"shard":1,"events":[2']) {
    assert.throws(() => new RawEvent(bad), SyntaxError, bad);
  }
  assert.throws(() => new RawEvent(123), TypeError);
  assert.throws(() => new RawEvent(Buffer.from([0x22, 0xff, 0x22])), TypeError); // not UTF-8: never altered
  assert.equal(new RawEvent(Buffer.from(' {"a": 1} ')).text, '{"a": 1}');
  assert.throws(() => new RawEvent({ a: 1 }), TypeError);
});

test('config types', async () => {
  for (const cfg of ['{"shards":2}', Buffer.from('{}'), [['shards', 2]], 5, null]) {
    await assert.rejects(Bus.open(cfg), TypeError);
  }
  await assert.rejects(Bus.open({ shards: 10n }), TypeError); // JSON.stringify refuses BigInt
});

test('a generator of events is accepted', async (t) => {
  const bus = await openBus(t, { shards: 2 });
  const result = await bus.publish((function* gen() { for (let i = 0; i < 10; i++) yield { i }; })());
  assert.equal(result.published, 10);
  const got = (await bus.poll()).events.map((e) => e.data.i).sort((a, b) => a - b);
  assert.deepEqual(got, [...Array(10).keys()]);
});

test('every call that enters Go runs on a worker thread; only mesh_free is synchronous', async (t) => {
  const native = netmesh._load();
  const saved = { ...native.fns };
  let asyncCalls = 0;
  for (const [name, fn] of Object.entries(saved)) {
    if (name === 'free') continue; // plain C, never enters Go: called synchronously
    const guard = function guard() { throw new Error(`synchronous call of ${name}`); };
    guard.async = (...args) => { asyncCalls++; return fn.async(...args); };
    native.fns[name] = guard;
  }
  t.after(() => Object.assign(native.fns, saved));
  const bus = await Bus.open({ embedded: { store_dir: require('./helpers').storeDir(t), memory: true } });
  await bus.publish([{ a: 1 }], { acks: true });
  await bus.poll({ limit: 5 });
  await assert.rejects(bus.poll({ limit: 0 }), MeshError);
  for await (const e of bus.consume({ stopAtEnd: true, waitMs: 10 })) void e;
  await bus.stats();
  await bus.close();
  await netmesh.libraryVersion();
  assert.ok(asyncCalls >= 8, `only ${asyncCalls} async calls`);
});

test('every string the library returns is freed with mesh_free', async (t) => {
  const native = netmesh._load();
  const savedFree = native.fns.free;
  let frees = 0;
  native.fns.free = (ptr) => {
    assert.equal(typeof ptr, 'bigint');
    frees++;
    savedFree(ptr);
  };
  t.after(() => { native.fns.free = savedFree; });
  const bus = await Bus.open({ embedded: { store_dir: require('./helpers').storeDir(t), memory: true } });
  assert.equal(frees, 0); // success: error_out stays NULL, nothing to free
  await bus.publish([1]); // 1 response
  await bus.poll(); // 1 response
  await assert.rejects(bus.poll({ limit: 0 }), MeshError); // 1 error object
  await bus.stats(); // 1 response
  await bus.close(); // NULL error_out
  await assert.rejects(bus.stats(), MeshError); // 1 error object
  assert.equal(frees, 5);
});
