// The example page (examples/browser) in headless Chromium (Debian's; make
// wasm-test installs it when missing, a test never downloads one) against an
// embedded server: a C program publishes, the page must show every event.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { tempDir } from './helpers.js';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const CHROMIUM = process.env.NETMESH_CHROMIUM || '/usr/bin/chromium';
const SCREENSHOT = process.env.NETMESH_SCREENSHOT || join(root, 'build/browser-example.png');

// Starts examples/browser/serve.mjs and resolves with its {page, ws, nats} line.
function serve(t) {
  const proc = spawn(process.execPath, [join(root, 'examples/browser/serve.mjs'), '--port', '0', '--memory',
    '--store', tempDir(t, 'browser')], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => proc.kill('SIGTERM'));
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  return new Promise((resolveLine, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line && out.includes('\n')) resolveLine(JSON.parse(line));
    });
    proc.on('exit', (code) => reject(new Error(`serve.mjs exited (${code}): ${err}`)));
  });
}

async function cPublish(nats, req) {
  const config = JSON.stringify({ url: nats, shards: 4, log_level: 'off' });
  const { stdout } = await run(process.env.NETMESH_MESHCALL, [config, 'publish', req], { encoding: 'utf8' });
  return JSON.parse(stdout);
}

test('the example page shows what a C program publishes, newest first, with counts per shard', async (t) => {
  assert.ok(process.env.NETMESH_MESHCALL, 'NETMESH_MESHCALL names tests/wasm/meshcall');
  const { page: url, nats } = await serve(t);
  // playwright starts it headless on a fresh profile of its own (--user-data-dir).
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  }).catch((err) => {
    throw new Error(`cannot start ${CHROMIUM} (make chromium installs it): ${err.message}`);
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  const logs = [];
  page.on('console', (m) => logs.push(m.text()));
  page.on('pageerror', (e) => logs.push(String(e)));
  await page.goto(url);
  await page.waitForSelector('#status[data-state="live"]', { timeout: 30000 }).catch(async (err) => {
    throw new Error(`page not live: ${await page.textContent('#status')}; console: ${logs.join(' | ')}; ${err.message}`);
  });

  // Two publishes from C while the page is open: 12 routed by hash, 3 on shard 2.
  const first = await cPublish(nats, `{"events":[${Array.from({ length: 12 }, (_, i) => `{"from":"c","n":${i}}`).join(',')}],"acks":true}`);
  const second = await cPublish(nats, '{"events":[{"from":"c","n":12},{"from":"c","n":13},{"from":"c","n":14}],"shard":2,"acks":true}');
  assert.equal(first.published + second.published, 15);
  await page.waitForFunction(() => document.getElementById('total').textContent === '15', null, { timeout: 20000 })
    .catch(async (err) => { throw new Error(`page shows ${await page.textContent('#total')} events; ${err.message}`); });

  const shown = await page.$$eval('#events tbody tr', (trs) => trs.map((tr) => ({
    shard: Number(tr.dataset.shard), id: tr.dataset.id, data: JSON.parse(tr.cells[3].textContent),
  })));
  assert.equal(shown.length, 15);
  assert.deepEqual(shown.map((r) => r.data.n).sort((a, b) => a - b), Array.from({ length: 15 }, (_, i) => i));
  assert.deepEqual(shown[0].data, { from: 'c', n: 14 }, 'the newest event is on top');
  assert.deepEqual(shown.slice(0, 3).map((r) => r.data.n), [14, 13, 12]);
  const acks = [...first.acks, ...second.acks].map((a) => `${a.shard}/${a.seq}`).sort();
  assert.deepEqual(shown.map((r) => `${r.shard}/${r.id}`).sort(), acks, 'the shards and ids the C library was told');

  const want = [0, 0, 0, 0];
  for (const a of [...first.acks, ...second.acks]) want[a.shard]++;
  const counts = await page.$$eval('#shards tbody tr', (trs) => trs.map((tr) => Number(tr.cells[1].textContent)));
  assert.deepEqual(counts, want);

  mkdirSync(dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  const html = await page.content();
  assert.ok(html.includes('{"from":"c","n":7}'), 'the DOM holds the events as JSON');
});
