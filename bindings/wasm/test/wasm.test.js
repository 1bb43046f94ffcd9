// The wasm build in Node against a real embedded server's WebSocket listener.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { Bus, MeshError, RawEvent, wasmVersion } from '../index.js';
import { native, openWasm, sleep, startHost, tempDir, within } from './helpers.js';

test('the wasm is the library version, and opens over ws:// with the stats of a url bus', async (t) => {
  const { ws } = await startHost(t, { shards: 4 });
  assert.match(ws, /^ws:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(await wasmVersion(), (await native.libraryVersion()).version);
  const bus = await openWasm(t, { url: ws, shards: 4 });
  const s = await bus.stats();
  assert.equal(s.embedded, false);
  assert.equal(s.server.url, ws);
  assert.equal(s.healthy, true);
  assert.equal(s.shards, 4);
  assert.match(s.server.version, /^2\.\d+\.\d+/);
});

test('round trip: what the wasm publishes, the wasm and the C library read back alike', async (t) => {
  const { host, ws } = await startHost(t, { shards: 8 });
  const bus = await openWasm(t, { url: ws, shards: 8 });
  const events = Array.from({ length: 200 }, (_, i) => ({ i, name: `événement ${i}`, tags: ['a', i % 3], nested: { ok: i % 2 === 0 } }));
  const r = await bus.publish(events, { acks: true });
  assert.equal(r.published, 200);
  assert.equal(r.duplicates, 0);
  assert.equal(r.acks.length, 200);
  const viaWasm = await bus.poll({ limit: 1000 });
  const viaC = await host.poll({ limit: 1000 });
  assert.equal(viaWasm.events.length, 200);
  assert.deepEqual(viaWasm, viaC);
  const byI = viaWasm.events.map((e) => e.data).sort((a, b) => a.i - b.i);
  assert.deepEqual(byI, events);
  for (const e of viaWasm.events) {
    assert.match(e.id, /^\d+$/);
    assert.match(e.ts, /^\d{19}$/);
  }
  assert.equal(viaWasm.hasMore, false);
});

test('batch_id: a republished batch is stored once, also when the C library sends it', async (t) => {
  const { host, ws } = await startHost(t, { shards: 4 });
  const bus = await openWasm(t, { url: ws, shards: 4 });
  const events = Array.from({ length: 30 }, (_, i) => ({ n: i }));
  assert.deepEqual(await bus.publish(events, { batchId: 'order-7' }), { published: 30, duplicates: 0 });
  assert.deepEqual(await bus.publish(events, { batchId: 'order-7' }), { published: 0, duplicates: 30 });
  assert.deepEqual(await host.publish(events, { batchId: 'order-7' }), { published: 0, duplicates: 30 });
  assert.deepEqual(await bus.publish(events, { batchId: 'order-8' }), { published: 30, duplicates: 0 });
  const all = await bus.poll({ limit: 1000 });
  assert.equal(all.events.length, 60);
  const s = await bus.stats();
  assert.deepEqual([s.published, s.duplicates], [60, 30]);
});

test('cursor paging: pages of 37 read every event once, in order per shard; a saved cursor resumes on a new bus', async (t) => {
  const { ws } = await startHost(t, { shards: 4 });
  const bus = await openWasm(t, { url: ws, shards: 4 });
  for (let b = 0; b < 5; b++) await bus.publish(Array.from({ length: 50 }, (_, i) => ({ n: b * 50 + i })));
  const seen = [];
  let cursor;
  let pages = 0;
  let saved;
  for (;;) {
    const page = await bus.poll({ limit: 37, cursor });
    pages++;
    assert.ok(page.events.length <= 37);
    seen.push(...page.events);
    cursor = page.nextCursor;
    if (pages === 3) saved = cursor;
    if (!page.hasMore) break;
  }
  assert.equal(seen.length, 250);
  assert.equal(pages, Math.ceil(250 / 37));
  assert.deepEqual(new Set(seen.map((e) => e.data.n)).size, 250);
  const last = new Map();
  for (const e of seen) {
    const id = BigInt(e.id);
    assert.ok(!last.has(e.shard) || last.get(e.shard) < id, `shard ${e.shard} out of order`);
    last.set(e.shard, id);
  }
  const other = await openWasm(t, { url: ws, shards: 4 });
  const rest = await other.poll({ limit: 1000, cursor: saved });
  assert.equal(rest.events.length, 250 - 3 * 37);
  const key = (e) => `${e.shard}/${e.id.padStart(20, '0')}`;
  const sorted = (evs) => [...evs].sort((a, b) => key(a).localeCompare(key(b)));
  assert.deepEqual(sorted(rest.events), sorted(seen.slice(3 * 37)), 'the events after the saved cursor');
  assert.deepEqual((await bus.poll({ limit: 10, cursor })).events, []);
});

test('long poll: waits for the next event and returns it at once; an empty one waits its wait_ms', async (t) => {
  const { host, ws } = await startHost(t, { shards: 4 });
  const bus = await openWasm(t, { url: ws, shards: 4 });
  const { nextCursor } = await bus.poll({ limit: 10 });
  let start = performance.now();
  const empty = await bus.poll({ limit: 10, cursor: nextCursor, waitMs: 400 });
  let took = performance.now() - start;
  assert.deepEqual(empty.events, []);
  assert.ok(took >= 380 && took < 3000, `empty long poll took ${took} ms`);

  start = performance.now();
  const waiting = bus.poll({ limit: 10, cursor: nextCursor, waitMs: 20000 });
  await sleep(500);
  await host.publish([{ late: true }]);
  const got = await within(10000, 'long poll', waiting);
  took = performance.now() - start;
  assert.deepEqual(got.events.map((e) => e.data), [{ late: true }]);
  assert.ok(took >= 450 && took < 5000, `long poll answered after ${took} ms`);

  // consume follows the cursor with long polls, also as an async iterator.
  const seen = [];
  const follow = (async () => {
    for await (const e of bus.consume({ cursor: nextCursor, waitMs: 200 })) {
      seen.push(e.data);
      if (seen.length === 3) break;
    }
  })();
  await host.publish([{ c: 1 }, { c: 2 }]);
  await within(10000, 'consume', follow);
  assert.deepEqual(seen.slice(0, 1), [{ late: true }]);
  assert.deepEqual(new Set(seen.slice(1).map((d) => d.c)), new Set([1, 2]));
});

// Each bad request is sent to the wasm and to the C library: the same code and
// the same message, since both are core's.
test('bad input: the codes and messages of the C library', async (t) => {
  const { host, ws } = await startHost(t, { shards: 4, max_request_bytes: 4096 });
  const bus = await openWasm(t, { url: ws, shards: 4, max_request_bytes: 4096 });
  const cases = [
    ['publish', '{"events":[1,}', 'invalid_argument'],
    ['publish', '{"events":[1],"shard":9}', 'invalid_argument'],
    ['publish', '{"events":[1],"batch_id":"no spaces"}', 'invalid_argument'],
    ['publish', '{"events":[1],"surprise":1}', 'invalid_argument'],
    ['publish', `{"events":["${'x'.repeat(5000)}"]}`, 'too_large'],
    ['poll', '{"limit":0}', 'invalid_argument'],
    ['poll', '{"cursor":"not a cursor"}', 'invalid_argument'],
    ['poll', '{"wait_ms":-1}', 'invalid_argument'],
    ['poll', '{"group":"g","cursor":"e30="}', 'invalid_argument'],
    ['commit', '{"group":"never-polled","cursor":"e30="}', 'invalid_argument'],
  ];
  const fns = native._load().fns;
  for (const [op, text, code] of cases) {
    const fromWasm = await bus._raw(op, text).then(() => null, (err) => err);
    assert.ok(fromWasm instanceof MeshError, `${op} ${text.slice(0, 40)}: no error from the wasm`);
    assert.equal(fromWasm.code, code, `${op} ${text.slice(0, 40)}: ${fromWasm.message}`);
    const fromC = await host._request(op === 'commit' ? fns.commit : fns[op], text).then(() => null, (err) => err);
    assert.ok(fromC instanceof native.MeshError);
    assert.deepEqual([fromWasm.code, fromWasm.message, fromWasm.retryable], [fromC.code, fromC.message, fromC.retryable]);
  }

  // Configs: core's rules, and the wasm's own (no embedded server, WebSocket only).
  const badConfigs = [
    [{}, 'invalid_argument', /no embedded server/],
    [{ url: 'nats://127.0.0.1:4222' }, 'invalid_argument', /ws:\/\/ or wss:\/\//],
    [{ url: ws, shards: 0 }, 'invalid_argument', /shards/],
    [{ url: ws, surprise: 1 }, 'invalid_argument', /surprise/],
    [{ url: ws, tls: { ca_file: '/ca.pem' } }, 'invalid_argument', /wss:\/\//],
    [{ url: 'ws://127.0.0.1:1', connect_timeout_ms: 2000 }, 'connection', /connect to ws:\/\/127\.0\.0\.1:1/],
  ];
  for (const [config, code, message] of badConfigs) {
    const err = await Bus.open({ log_level: 'off', ...config }, { WebSocket }).then(() => null, (e) => e);
    assert.ok(err instanceof MeshError, `${JSON.stringify(config)} opened`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
  }

  // The binding's own type checks, as the Node binding's.
  await assert.rejects(bus.publish('not an array'), TypeError);
  await assert.rejects(bus.poll({ limt: 5 }), /unknown poll option "limt"/);
  assert.throws(() => new RawEvent('{"a":'), SyntaxError);
  await assert.rejects(Bus.open({ url: ws }, { WebSocket: 5 }), TypeError);
  await assert.rejects(Bus.open({ url: ws }, { Websocket: WebSocket }), /unknown open option/);

  // After close: shutdown once, invalid_handle later, as the C ABI.
  const closing = await openWasm(t, { url: ws, shards: 4 });
  await closing.close();
  await closing.close();
  await assert.rejects(closing.poll({}), (err) => err instanceof MeshError && err.code === 'invalid_handle');
});

// A real nats-server process with a WebSocket listener, SIGKILLed and started
// again on the same port and store: the wasm bus reconnects by itself.
test('reconnect: the wasm bus survives its server being killed and restarted', async (t) => {
  const server = process.env.NETMESH_NATS_SERVER;
  assert.ok(server, 'NETMESH_NATS_SERVER names the nats-server binary (make wasm-test sets it)');
  const dir = tempDir(t, 'reconnect');
  const port = await freePort();
  const conf = join(dir, 'server.conf');
  writeFileSync(conf, `listen: "127.0.0.1:-1"\njetstream { store_dir: "${join(dir, 'js')}" }\n` +
    `websocket { listen: "127.0.0.1:${port}", no_tls: true }\n`);
  let proc = await runServer(server, conf, port);
  t.after(() => proc.kill('SIGKILL'));
  const bus = await openWasm(t, { url: `ws://127.0.0.1:${port}`, shards: 2 });
  assert.equal((await bus.publish([{ before: 1 }])).published, 1);

  proc.kill('SIGKILL');
  await new Promise((resolve) => proc.once('exit', resolve));
  for (let i = 0; i < 100 && (await bus.stats()).healthy; i++) await sleep(50);
  assert.equal((await bus.stats()).healthy, false, 'the bus saw its server go');
  // Publish while the server is down: it is sent once the bus is back.
  const during = bus.publish([{ during: 1 }], { timeoutMs: 20000, batchId: 'during' });
  await sleep(500);
  proc = await runServer(server, conf, port);
  const r = await within(20000, 'publish across a restart', during);
  assert.equal(r.published + r.duplicates, 1);
  for (let i = 0; i < 100 && !(await bus.stats()).healthy; i++) await sleep(50);
  assert.equal((await bus.stats()).healthy, true, 'the bus is back');
  const all = await bus.poll({ limit: 10 });
  assert.deepEqual(all.events.map((e) => e.data).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    [{ before: 1 }, { during: 1 }]);
});

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

// Starts nats-server and resolves once its WebSocket port takes connections.
async function runServer(bin, conf, port) {
  const proc = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`nats-server exited: ${log}`);
    const up = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (up) return proc;
    await sleep(50);
  }
  proc.kill('SIGKILL');
  throw new Error(`nats-server did not listen on ${port}: ${log}`);
}
