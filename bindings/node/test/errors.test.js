'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { netmesh, config, openBus, rawPublish, sleep } = require('./helpers');

const { Bus, MeshError, RawEvent } = netmesh;

function isMeshError(code, fragment = '') {
  return (err) => {
    assert.ok(err instanceof MeshError, `not a MeshError: ${err}`);
    assert.equal(err.name, 'MeshError');
    assert.equal(err.code, code);
    assert.equal(err.retryable, code === 'transient');
    assert.ok(err.message.includes(fragment), `${JSON.stringify(err.message)} lacks ${JSON.stringify(fragment)}`);
    return true;
  };
}

test('invalid_argument from the library, naming the field', async (t) => {
  const bus = await openBus(t, { shards: 4 });
  const cases = [
    [() => bus.poll({ limit: 0 }), 'limit'],
    [() => bus.poll({ limit: 2n ** 70n }), 'limit'], // huge ints go to the library
    [() => bus.poll({ limit: 2 ** 70 }), 'limit'],
    [() => bus.poll({ shard: -1 }), 'shard'],
    [() => bus.poll({ shard: 2n ** 64n }), 'shard'],
    [() => bus.poll({ cursor: 'not a cursor' }), 'cursor'],
    [() => bus.poll({ start: 'middle' }), 'start'],
    [() => bus.poll({ waitMs: -1 }), 'wait_ms'],
    [() => bus.poll({ waitMs: 10 ** 9 }), 'wait_ms'],
    [() => bus.publish([1], { batchId: 'has space' }), 'batch_id'],
    [() => bus.publish([1, null]), 'events[1]'],
    [() => bus.publish([new RawEvent('null')]), 'events[0]'],
    [() => bus.publish([1], { shard: 4 }), 'shard'],
    [() => bus.publish([1], { timeoutMs: 0 }), 'timeout_ms'],
  ];
  for (const [call, fragment] of cases) {
    await assert.rejects(call(), isMeshError('invalid_argument', fragment));
  }
  assert.equal((await bus.stats()).errors.invalid_argument, cases.length);
  assert.equal((await bus.poll()).events.length, 0);
});

test('invalid config', async (t) => {
  for (const extra of [{ shards: 0 }, { shards: '4' }, { bogus: 1 }, { max_request_bytes: 2 ** 80 }]) {
    await assert.rejects(Bus.open(config(t, extra)), isMeshError('invalid_argument'));
  }
});

test('too_large', async (t) => {
  const bus = await openBus(t, { max_request_bytes: 1024 });
  await assert.rejects(bus.publish([{ blob: 'x'.repeat(2000) }]), isMeshError('too_large', 'max_request_bytes'));
  const big = await openBus(t);
  await assert.rejects(big.publish([1, 'y'.repeat(1 << 20)]), isMeshError('too_large', 'events[1]'));
});

test('invalid_handle after close', async (t) => {
  const bus = await Bus.open(config(t));
  await bus.close();
  await assert.rejects(bus.publish([1]), isMeshError('invalid_handle', 'not open'));
  await assert.rejects(bus.poll(), isMeshError('invalid_handle', 'not open'));
  await assert.rejects(bus.stats(), isMeshError('invalid_handle', 'not open'));
});

test('close() is idempotent: a failed first close rejects once, later ones resolve', async (t) => {
  const bus = await Bus.open(config(t));
  // Shut the handle down behind the Bus's back, so that its own close fails.
  const native = netmesh._load();
  const out = [null];
  const status = await new Promise((resolve, reject) => native.fns.shutdown.async(bus.handle, out,
    (err, res) => (err ? reject(err) : resolve(res))));
  assert.equal(status, 0);
  const first = bus.close();
  const racing = bus.close(); // while the first is still running
  await assert.rejects(first, isMeshError('invalid_handle'));
  await racing;
  await bus.close();
  await bus.close();
  assert.equal(bus.closed, true);
});

test('shutdown while a poll waits', async (t) => {
  const bus = await Bus.open(config(t));
  const waiting = assert.rejects(bus.poll({ waitMs: 10000, start: 'latest' }), isMeshError('shutdown'));
  await sleep(500);
  const started = Date.now();
  await bus.close();
  await waiting;
  assert.ok(Date.now() - started < 5000);
});

test('connection', async () => {
  await assert.rejects(Bus.open({ url: 'nats://127.0.0.1:1', connect_timeout_ms: 500 }),
    isMeshError('connection', '127.0.0.1:1'));
});

test('transient when the server goes away', async (t) => {
  const server = await Bus.open(config(t, { shards: 1 }, { listen: '127.0.0.1:0' }));
  const url = (await server.stats()).server.url;
  const client = await Bus.open({ url, shards: 1, connect_timeout_ms: 1000 });
  t.after(() => client.close().catch(() => {}));
  assert.equal((await client.publish([1])).published, 1);
  await server.close();
  await assert.rejects(client.publish([2], { timeoutMs: 300 }), isMeshError('transient'));
  await assert.rejects(client.poll({ timeoutMs: 300 }), isMeshError('transient'));
});

test('fatal on a corrupt record, skipCorrupt passes it', async (t) => {
  const bus = await openBus(t, { shards: 1 }, { listen: '127.0.0.1:0' });
  await bus.publish([{ good: 1 }]);
  const ack = await rawPublish((await bus.stats()).server.url, 'netmesh.shard.0', '{"r":null,"t":1,"s":0}');
  assert.deepEqual(ack, { stream: 'netmesh_shard_0', seq: 2, duplicate: false });
  await bus.publish([{ good: 2 }]);
  const first = await bus.poll();
  assert.deepEqual(first.events.map((e) => e.data), [{ good: 1 }]);
  await assert.rejects(bus.poll({ cursor: first.nextCursor }), isMeshError('fatal', 'seq 2'));
  const skipped = await bus.poll({ cursor: first.nextCursor, skipCorrupt: true });
  assert.deepEqual(skipped.events.map((e) => e.data), [{ good: 2 }]);
  assert.equal(skipped.skipped, 1);
});

test('an unparseable record is skipped', async (t) => {
  const bus = await openBus(t, { shards: 1 }, { listen: '127.0.0.1:0' });
  await bus.publish([1]);
  const { url } = (await bus.stats()).server;
  await rawPublish(url, 'netmesh.shard.0', 'not json');
  await bus.publish([2]);
  const result = await bus.poll();
  assert.deepEqual(result.events.map((e) => e.data), [1, 2]);
  assert.equal(result.skipped, 1);
  // The tool reports a message no stream stores rather than losing it.
  await assert.rejects(rawPublish(url, 'nobody.stores.this', '1', 1000), /no stream/);
});

test('every status and code maps (internal cannot be provoked: it is a recovered panic)', () => {
  const table = [[-1, 'invalid_argument'], [-2, 'invalid_handle'], [-3, 'connection'], [-4, 'transient'],
    [-5, 'fatal'], [-6, 'too_large'], [-7, 'shutdown'], [-99, 'internal']];
  for (const [status, code] of table) {
    const retryable = code === 'transient';
    const fromObject = MeshError.fromResponse(status,
      JSON.stringify({ error: { code, message: `m ${code}`, retryable } }));
    assert.deepEqual([fromObject.code, fromObject.message, fromObject.retryable, fromObject.status],
      [code, `m ${code}`, retryable, status]);
    const fromStatus = MeshError.fromResponse(status, null);
    assert.deepEqual([fromStatus.code, fromStatus.retryable], [code, retryable]);
  }
  assert.equal(MeshError.fromResponse(-42, null).code, 'unknown(-42)');
});
