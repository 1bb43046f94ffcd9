'use strict';
// Node cannot fork(2) itself (child_process starts a fresh process that cannot
// inherit a Bus), so the binding's process check is proven by changing what
// process.pid reports, which is exactly what the check compares.
const test = require('node:test');
const assert = require('node:assert/strict');
const { netmesh, openBus } = require('./helpers');

test('a bus used from another process id is refused without calling in', async (t) => {
  const bus = await openBus(t, { shards: 1 });
  await bus.publish([{ from: 'parent' }]);
  const parent = process.pid;
  const descriptor = Object.getOwnPropertyDescriptor(process, 'pid');
  Object.defineProperty(process, 'pid', { ...descriptor, value: parent + 100000 });
  try {
    for (const call of [() => bus.publish([{ from: 'child' }]), () => bus.poll(), () => bus.stats()]) {
      await assert.rejects(call(), (err) => {
        assert.ok(err instanceof netmesh.MeshError);
        assert.equal(err.code, 'invalid_handle');
        assert.equal(err.status, null);
        assert.match(err.message, new RegExp(`opened in process ${parent}; a forked child`));
        return true;
      });
    }
    await bus.close(); // only forgets the handle
    assert.equal(bus.closed, true);
  } finally {
    Object.defineProperty(process, 'pid', descriptor);
  }
  // The "child" did not shut the parent's handle: a fresh Bus object on it would work,
  // and the library still counts the parent's publish (stats through a new open is
  // not possible here, so check that the handle is still live by a raw poll).
  const native = netmesh._load();
  const out = [null];
  const req = Buffer.from('{}');
  const status = await new Promise((resolve, reject) => native.fns.poll.async(bus.handle, req, req.length, out,
    (err, res) => (err ? reject(err) : resolve(res))));
  assert.equal(status, 0);
  assert.deepEqual(JSON.parse(out[0]).events.map((e) => e.raw), [{ from: 'parent' }]);
  // Now really close it (the test's after-hook close is a no-op on a closed Bus).
  const shut = [null];
  await new Promise((resolve, reject) => native.fns.shutdown.async(bus.handle, shut,
    (err, res) => (err ? reject(err) : resolve(res))));
});
