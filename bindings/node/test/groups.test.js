'use strict';
// Consumer groups: group polls, commit, and consume({ group }) committing.
const test = require('node:test');
const assert = require('node:assert/strict');
const { netmesh, storeDir, config, openBus, libraryErrors } = require('./helpers');

const { Bus, MeshError } = netmesh;

const invalidArgument = (err) => err instanceof MeshError && err.code === 'invalid_argument';
const numbers = (events) => events.map((e) => e.data.n);
const range = (from, to) => Array.from({ length: to - from }, (_, i) => from + i);

/** File storage, so a new bus on the same store sees the group's positions. */
function fileConfig(t, extra = {}) {
  return { embedded: { store_dir: storeDir(t) }, ...extra };
}

async function groupStats(bus, group) {
  const stats = await bus.stats();
  const found = (stats.groups || []).find((g) => g.group === group);
  assert.ok(found, `stats has no group ${group}: ${JSON.stringify(stats)}`);
  return found;
}

async function collect(iterable) {
  const out = [];
  for await (const x of iterable) out.push(x);
  return out;
}

test('a new bus resumes the group by name', async (t) => {
  const cfg = fileConfig(t);
  const first = [];
  const bus = await Bus.open(cfg);
  try {
    await bus.publish(range(0, 1000).map((n) => ({ n })));
    for (let i = 0; i < 4; i++) {
      const batch = await bus.poll({ group: 'billing', limit: 100 });
      assert.deepEqual(batch.assigned, range(0, 16)); // a lone member holds every shard
      first.push(...numbers(batch.events));
      const result = await bus.commit(batch.nextCursor, { group: 'billing' });
      assert.deepEqual(result.revoked, []);
      assert.ok(result.committed.length > 0);
    }
  } finally {
    await bus.close();
  }
  assert.equal(first.length, 400);
  assert.equal(new Set(first).size, 400);
  const bus2 = await Bus.open(cfg);
  let rest;
  try {
    rest = numbers(await collect(bus2.consume({ group: 'billing', waitMs: 100, stopAtEnd: true })));
  } finally {
    await bus2.close();
  }
  assert.equal(rest.length, 600);
  assert.equal(new Set(rest).size, 600, 'an event was read twice');
  assert.ok(rest.every((n) => !first.includes(n)), 'an event was read twice');
  assert.deepEqual([...first, ...rest].sort((a, b) => a - b), range(0, 1000));
});

test('autoCommit commits the previous poll', async (t) => {
  const bus = await openBus(t, { shards: 1 });
  await bus.publish(range(0, 30).map((n) => ({ n })));
  await bus.poll({ group: 'g', limit: 10, autoCommit: true }); // nothing before it to commit
  assert.equal((await groupStats(bus, 'g')).shards[0].committed, '0');
  await bus.poll({ group: 'g', limit: 10, autoCommit: true }); // commits the first poll's cursor
  assert.equal((await groupStats(bus, 'g')).shards[0].committed, '10');
});

test('consume({ group }) commits what it handed out', async (t) => {
  const cfg = fileConfig(t, { shards: 4 });
  const bus = await Bus.open(cfg);
  try {
    await bus.publish(range(0, 250).map((n) => ({ n })));
    const got = numbers(await collect(bus.consume({ group: 'g', limit: 40, waitMs: 100, stopAtEnd: true })));
    assert.deepEqual(got.sort((a, b) => a - b), range(0, 250));
  } finally {
    await bus.close();
  }
  const bus2 = await Bus.open(cfg);
  try {
    assert.equal((await bus2.poll({ limit: 1000 })).events.length, 250); // the events are still there
    const batch = await bus2.poll({ group: 'g', limit: 1000 });
    assert.deepEqual(batch.events, []);
    assert.equal(batch.hasMore, false);
    assert.deepEqual(batch.assigned, [0, 1, 2, 3]);
  } finally {
    await bus2.close();
  }
});

test('consume({ group }) commits only complete batches', async (t) => {
  const cfg = fileConfig(t, { shards: 1 });
  const bus = await Bus.open(cfg);
  try {
    await bus.publish(range(0, 30).map((n) => ({ n })));
    let got = [];
    for await (const e of bus.consume({ group: 'g', limit: 10, waitMs: 100 })) {
      got.push(e.data.n);
      if (got.length === 10) break; // right after a batch's last event: it is committed
    }
    assert.deepEqual(got, range(0, 10));
    assert.equal((await groupStats(bus, 'g')).shards[0].committed, '10');
    got = [];
    for await (const e of bus.consume({ group: 'g', limit: 10, waitMs: 100 })) {
      got.push(e.data.n);
      if (got.length === 5) break; // in the middle of a batch: nothing is committed
    }
    assert.deepEqual(got, range(10, 15));
    assert.equal((await groupStats(bus, 'g')).shards[0].committed, '10');
  } finally {
    await bus.close();
  }
  const bus2 = await Bus.open(cfg); // the group reads the unfinished batch again
  try {
    const rest = numbers(await collect(bus2.consume({ group: 'g', waitMs: 100, stopAtEnd: true })));
    assert.deepEqual(rest, range(10, 30));
  } finally {
    await bus2.close();
  }
});

test('consumeBatches({ group }) commits on resume and on return', async (t) => {
  const bus = await openBus(t, { shards: 1 });
  await bus.publish(range(0, 30).map((n) => ({ n })));
  const batches = bus.consumeBatches({ group: 'g', member: 'worker-1', limit: 10, waitMs: 100 });
  const first = (await batches.next()).value;
  assert.deepEqual(first.assigned, [0]);
  let stats = await groupStats(bus, 'g');
  assert.deepEqual([stats.member, stats.shards[0].committed], ['worker-1', '0']);
  const second = (await batches.next()).value; // resuming commits the first batch
  assert.deepEqual(numbers(second.events), range(10, 20));
  assert.equal((await groupStats(bus, 'g')).shards[0].committed, '10');
  await batches.return(); // returning while holding a whole batch commits it
  stats = await groupStats(bus, 'g');
  assert.equal(stats.shards[0].committed, '20');
  assert.equal(await libraryErrors(bus), 0);
});

test('closing the bus between events of a group consume ends it', async (t) => {
  const bus = await Bus.open(config(t, { shards: 1 }));
  await bus.publish([1, 2, 3]);
  const got = [];
  for await (const e of bus.consume({ group: 'g', limit: 1, waitMs: 100 })) {
    got.push(e.data);
    await bus.close(); // the commit after this event finds the bus closed: no error
  }
  assert.deepEqual(got, [1]);
});

test('without a group nothing changes', async (t) => {
  const bus = await openBus(t, { shards: 2 });
  await bus.publish(range(0, 20));
  const batches = bus.consumeBatches({ limit: 5, waitMs: 100 });
  const batch = (await batches.next()).value;
  await batches.return();
  assert.equal('assigned' in batch, false);
  assert.equal('groups' in (await bus.stats()), false);
});

test('group polls refused by the library', async (t) => {
  const bus = await openBus(t, { shards: 2 });
  await bus.publish(range(0, 10));
  const plain = await bus.poll({ limit: 5 });
  for (const opts of [
    { group: 'g', cursor: plain.nextCursor }, { group: 'g', shard: 1 }, { member: 'm' },
    { autoCommit: true }, { group: 'a.b' }, { group: '' }, { group: 'g', member: 'x y' },
  ]) {
    await assert.rejects(bus.poll(opts), invalidArgument, JSON.stringify(opts));
  }
  await assert.rejects(bus.consume({ group: 'g', cursor: plain.nextCursor }).next(), invalidArgument);
  await assert.rejects(bus.consumeBatches({ group: 'g', shard: 0 }).next(), invalidArgument);
  await assert.rejects(bus.consume({ member: 'm' }).next(), invalidArgument);
});

test('commits refused by the library', async (t) => {
  const bus = await openBus(t, { shards: 2 });
  await bus.publish(range(0, 10));
  const plain = await bus.poll({ limit: 5 });
  await assert.rejects(bus.commit(plain.nextCursor, { group: 'g' }), // before polling the group
    (err) => invalidArgument(err) && /not a member/.test(err.message));
  const group = await bus.poll({ group: 'g', limit: 5 });
  const other = await bus.poll({ group: 'h', limit: 5 });
  for (const [cursor, name] of [[plain.nextCursor, 'g'], [other.nextCursor, 'g'], ['garbage', 'g'],
    [group.nextCursor, 'h'], [group.nextCursor, '']]) {
    await assert.rejects(bus.commit(cursor, { group: name }), invalidArgument, `${cursor} ${name}`);
  }
  await assert.rejects(bus.poll({ group: 'g', member: 'other' }),
    (err) => invalidArgument(err) && /one handle is one member/.test(err.message));
  for (const shard of (await groupStats(bus, 'g')).shards) {
    assert.equal(shard.committed, '0', 'a refused commit stored something');
  }
});

test('group option types are checked before the call', async (t) => {
  const bus = await openBus(t, { shards: 2 });
  const notMesh = (err) => err instanceof TypeError && !(err instanceof MeshError);
  for (const opts of [{ group: 1 }, { group: 'g', member: Buffer.from('m') }, { group: 'g', autoCommit: 1 },
    { group: 'g', auto_commit: true }, { groupName: 'g' }]) {
    await assert.rejects(bus.poll(opts), notMesh, JSON.stringify(opts));
  }
  await assert.rejects(bus.commit(null, { group: 'g' }), notMesh);
  await assert.rejects(bus.commit('x'), notMesh);
  await assert.rejects(bus.commit('x', 'g'), notMesh);
  await assert.rejects(bus.commit('x', { group: 'g', timeoutMs: '1' }), notMesh);
  await assert.rejects(bus.commit('x', { group: 'g', timeout_ms: 1 }), notMesh);
  assert.throws(() => bus.consume({ group: ['g'] }), TypeError); // when consume() is called
  assert.throws(() => bus.consume({ group: 'g', autoCommit: true }), TypeError); // consume commits by itself
  assert.equal(await libraryErrors(bus), 0);
});

test('result types', async (t) => {
  const bus = await openBus(t, { shards: 3 });
  await bus.publish(range(0, 9).map((n) => ({ n })));
  assert.equal((await bus.poll()).assigned, undefined);
  const batch = await bus.poll({ group: 'g', limit: 4 });
  assert.deepEqual(batch.assigned, [0, 1, 2]);
  assert.ok(batch.assigned.every(Number.isInteger));
  assert.equal(batch.events.length, 4);
  assert.deepEqual(Object.keys(batch).sort(), ['assigned', 'events', 'hasMore', 'nextCursor', 'skipped']);
  const result = await bus.commit(batch.nextCursor, { group: 'g', timeoutMs: 5000 });
  assert.deepEqual(result, { committed: [0, 1, 2], revoked: [] });
  const stats = await groupStats(bus, 'g');
  assert.deepEqual(stats.assigned, [0, 1, 2]);
  assert.deepEqual(stats.shards.map((s) => s.shard), [0, 1, 2]);
  assert.equal(stats.shards.reduce((sum, s) => sum + Number(BigInt(s.committed)), 0), 4);
  assert.ok(stats.shards.every((s) => typeof s.committed === 'string' && Number.isInteger(s.lag) && s.lag >= 0));
});

test('the groups config', async (t) => {
  const bus = await openBus(t, { groups: { session_ms: 1000 } });
  assert.deepEqual((await bus.poll({ group: 'g' })).assigned, range(0, 16));
  await assert.rejects(Bus.open(config(t, { groups: { session_ms: 999 } })), invalidArgument);
  await assert.rejects(Bus.open(config(t, { groups: { session: 1000 } })), invalidArgument);
});
