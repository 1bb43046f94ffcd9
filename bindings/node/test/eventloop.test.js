'use strict';
// Calls run on worker threads: the event loop keeps running while a poll waits.
const test = require('node:test');
const assert = require('node:assert/strict');
const { openBus } = require('./helpers');

test('a 1500 ms waiting poll does not block the event loop', async (t) => {
  const bus = await openBus(t, { shards: 4 });
  let ticks = 0;
  let worstGap = 0;
  let last = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    worstGap = Math.max(worstGap, now - last);
    last = now;
    ticks++;
  }, 50);
  const started = Date.now();
  try {
    const result = await bus.poll({ waitMs: 1500, start: 'latest' });
    assert.equal(result.events.length, 0);
  } finally {
    clearInterval(timer);
  }
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 1400, `the poll returned after ${elapsed} ms, not after waiting`);
  assert.ok(ticks >= 10, `the 50 ms timer fired only ${ticks} times in ${elapsed} ms`);
  assert.ok(worstGap < 500, `the event loop stalled for ${worstGap} ms`);
});
