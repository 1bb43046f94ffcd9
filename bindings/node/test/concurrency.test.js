'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { openBus } = require('./helpers');

const WORKERS = 8;
const BATCHES = 20;
const PER_BATCH = 25;

test('8 concurrent publishers and 8 concurrent readers on one bus: every event exactly once', async (t) => {
  const bus = await openBus(t, { shards: WORKERS });
  const total = WORKERS * BATCHES * PER_BATCH;
  const seen = new Map();
  let publishing = true;

  const publisher = async (w) => {
    for (let b = 0; b < BATCHES; b++) {
      const events = Array.from({ length: PER_BATCH }, (_, i) => ({ w, b, i }));
      const r = await bus.publish(events, { batchId: `w${w}-b${b}` });
      assert.equal(r.published + r.duplicates, PER_BATCH);
    }
  };
  const reader = async (shard) => {
    let cursor;
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
      const batch = await bus.poll({ limit: 50, cursor, shard, waitMs: 100 });
      cursor = batch.nextCursor;
      for (const e of batch.events) {
        assert.equal(e.shard, shard);
        const key = `${e.data.w}/${e.data.b}/${e.data.i}`;
        seen.set(key, (seen.get(key) || 0) + 1);
      }
      if (batch.events.length === 0 && !batch.hasMore && !publishing) return;
    }
  };
  const readers = Array.from({ length: WORKERS }, (_, k) => reader(k));
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => publisher(w)));
  publishing = false;
  await Promise.all(readers);
  assert.equal(seen.size, total);
  assert.deepEqual(new Set(seen.values()), new Set([1]));
  const stats = await bus.stats();
  assert.deepEqual([stats.published, stats.duplicates], [total, 0]);
});
