// The wasm build and the C library (a C program, and Python over ctypes) on one
// embedded server: what one side publishes, the other reads byte for byte.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { RawEvent } from '../index.js';
import { openWasm, startHost } from './helpers.js';

const run = promisify(execFile);
const MESHCALL = process.env.NETMESH_MESHCALL;
const PYTHON = process.env.NETMESH_PYTHON || 'python3';

// Spellings JSON.parse would not keep: spacing, key order, big and odd
// numbers, escapes, non-ASCII, a top-level scalar.
const TEXTS = [
  '{"big":123456789012345678901234567890,"f":1.50e+3,"neg":-0}',
  '{ "spaced" : [ 1 , 2 ,3 ] ,"z":1,"a":2 }',
  '{"esc":"quote \\" slash \\/ tab \\t \\u00e9 \\ud83d\\ude00","raw":"é😀"}',
  '"just a string"',
  '18446744073709551616',
  '[null,true,false,{},[]]',
];

async function meshcall(config, op, req) {
  assert.ok(MESHCALL, 'NETMESH_MESHCALL names tests/wasm/meshcall (make wasm-test builds it)');
  const { stdout } = await run(MESHCALL, [JSON.stringify(config), op, req], { encoding: 'utf8' });
  return stdout;
}

async function pythonPoll(config, req) {
  const script = [
    'import sys, json, netmesh',
    'with netmesh.Bus(json.loads(sys.argv[1])) as bus:',
    '    sys.stdout.write(bus._lib.poll(bus._handle, sys.argv[2].encode("utf-8")))',
  ].join('\n');
  const { stdout } = await run(PYTHON, ['-c', script, JSON.stringify(config), req], { encoding: 'utf8' });
  return stdout;
}

// Full poll responses are compared: ids, shards, timestamps, cursors and the
// events' bytes. One shard keeps the order the same everywhere.
test('the wasm publishes, C and Python read the same bytes', async (t) => {
  const { nats, ws } = await startHost(t, { shards: 1 });
  const bus = await openWasm(t, { url: ws, shards: 1 });
  const r = await bus.publish(TEXTS.map((s) => new RawEvent(s)), { batchId: 'interop-1' });
  assert.equal(r.published, TEXTS.length);
  const req = '{"limit":100}';
  const fromWasm = await bus._raw('poll', req);
  for (const text of TEXTS) assert.ok(fromWasm.includes(`"raw":${text}}`), `wasm poll lacks ${text}`);
  const config = { url: nats, shards: 1, log_level: 'off' };
  assert.equal(await meshcall(config, 'poll', req), fromWasm, 'C reads what the wasm reads');
  assert.equal(await pythonPoll(config, req), fromWasm, 'Python reads what the wasm reads');
});

test('C publishes, the wasm reads the same bytes', async (t) => {
  const { nats, ws } = await startHost(t, { shards: 3 });
  const config = { url: nats, shards: 3, log_level: 'off' };
  const pub = JSON.parse(await meshcall(config, 'publish', `{"events":[${TEXTS.join(',')}],"acks":true}`));
  assert.equal(pub.published, TEXTS.length);
  const bus = await openWasm(t, { url: ws, shards: 3 });
  const req = '{"limit":100}';
  const fromWasm = await bus._raw('poll', req);
  assert.equal(fromWasm, await meshcall(config, 'poll', req));
  const events = JSON.parse(fromWasm).events;
  assert.deepEqual(events.map((e) => `${e.shard}/${e.id}`).sort(), pub.acks.map((a) => `${a.shard}/${a.seq}`).sort());
  for (const text of TEXTS) assert.ok(fromWasm.includes(`"raw":${text}}`), `wasm poll lacks ${text}`);
  // The binding decodes the same events.
  const page = await bus.poll({ limit: 100 });
  const canon = (values) => values.map((v) => JSON.stringify(v)).sort();
  assert.deepEqual(canon(page.events.map((e) => e.data)), canon(TEXTS.map((s) => JSON.parse(s))));
});
