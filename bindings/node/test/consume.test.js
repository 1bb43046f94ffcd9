'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { netmesh, config, openBus, sleep } = require('./helpers');

const { Bus, MeshError } = netmesh;

test('consume follows the cursor and stops at end', async (t) => {
  const bus = await openBus(t, { shards: 3 });
  await bus.publish(Array.from({ length: 250 }, (_, n) => ({ n })));
  const got = [];
  for await (const e of bus.consume({ limit: 40, waitMs: 100, stopAtEnd: true })) got.push(e.data.n);
  assert.deepEqual(got.sort((a, b) => a - b), [...Array(250).keys()]);
});

test('consume waits for new events', async (t) => {
  const bus = await openBus(t, { shards: 2 });
  setTimeout(() => { bus.publish([{ late: 1 }]); }, 300);
  const started = Date.now();
  const it = bus.consume({ waitMs: 5000 });
  const { value } = await it.next();
  assert.deepEqual(value.data, { late: 1 });
  assert.ok(Date.now() - started < 4000);
  await it.return();
});

test('leaving the loop stops it; the bus stays usable', async (t) => {
  const bus = await openBus(t, { shards: 1 });
  await bus.publish([...Array(10).keys()]);
  const got = [];
  for await (const e of bus.consume({ limit: 3, waitMs: 100 })) {
    got.push(e.data);
    if (e.data === 3) break;
  }
  assert.deepEqual(got, [0, 1, 2, 3]);
  const it = bus.consume({ limit: 3, waitMs: 100 });
  assert.equal((await it.next()).value.data, 0);
  assert.deepEqual(await it.return(), { value: undefined, done: true });
  assert.deepEqual(await it.next(), { value: undefined, done: true });
  assert.equal((await bus.poll()).events.length, 10);
});

test('closing the bus while consume waits ends it without an error', async (t) => {
  const bus = await Bus.open(config(t, { shards: 2 }));
  await bus.publish([1, 2]);
  const got = [];
  const consumer = (async () => { for await (const e of bus.consume({ waitMs: 30000 })) got.push(e.data); })();
  await sleep(500); // both read; now a poll waits
  const started = Date.now();
  await bus.close();
  await consumer; // resolves: no error
  assert.ok(Date.now() - started < 5000);
  assert.deepEqual(got.sort(), [1, 2]);
});

test('closing the bus between events ends it', async (t) => {
  const bus = await Bus.open(config(t, { shards: 1 }));
  await bus.publish([1, 2, 3]);
  const got = [];
  for await (const e of bus.consume({ limit: 1, waitMs: 100 })) {
    got.push(e.data);
    await bus.close();
  }
  assert.deepEqual(got, [1]);
});

test('an AbortSignal stops it between polls', async (t) => {
  const bus = await openBus(t, { shards: 1 });
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 300);
  const started = Date.now();
  for await (const e of bus.consume({ waitMs: 100, signal: ac.signal })) void e;
  assert.ok(Date.now() - started < 3000);
});

test('batches resume from a saved cursor', async (t) => {
  const bus = await openBus(t, { shards: 2 });
  await bus.publish([...Array(20).keys()]);
  const batches = bus.consumeBatches({ limit: 8, waitMs: 100 });
  const first = (await batches.next()).value;
  await batches.return();
  const rest = [];
  for await (const e of bus.consume({ cursor: first.nextCursor, waitMs: 100, stopAtEnd: true })) rest.push(e.data);
  assert.deepEqual([...first.events.map((e) => e.data), ...rest].sort((a, b) => a - b), [...Array(20).keys()]);
});

test('other errors propagate; bad types are reported when consume() is called', async (t) => {
  const bus = await openBus(t);
  await assert.rejects(bus.consume({ cursor: 'garbage' }).next(), (e) => e instanceof MeshError && e.code === 'invalid_argument');
  assert.throws(() => bus.consume({ limit: '10' }), TypeError);
  assert.throws(() => bus.consume({ signal: 'stop' }), TypeError);
});
