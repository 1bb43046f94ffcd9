'use strict';
// Shared helpers of the netmesh Node tests (node:test, no other dependency).
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const netmesh = require('..');

/** A fresh temporary store directory, removed after the test. */
function storeDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netmesh-nodetest-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A config on a fresh memory store; `embedded` fields merge in. */
function config(t, extra = {}, embedded = {}) {
  return { embedded: { store_dir: storeDir(t), memory: true, ...embedded }, ...extra };
}

/** Opens a bus that is closed after the test. */
async function openBus(t, extra = {}, embedded = {}) {
  const bus = await netmesh.Bus.open(config(t, extra, embedded));
  t.after(() => bus.close().catch(() => {}));
  return bus;
}

/** The number of failed calls the library counted on this bus. */
async function libraryErrors(bus) {
  const { errors } = await bus.stats();
  return Object.values(errors).reduce((a, b) => a + b, 0);
}

/** The rawpub tool (tests/rawpub): $NETMESH_RAWPUB, else build/tools/rawpub. */
function rawpubPath() {
  if (process.env.NETMESH_RAWPUB) return process.env.NETMESH_RAWPUB;
  const built = path.resolve(__dirname, '../../../build/tools/rawpub');
  if (fs.existsSync(built)) return built;
  throw new Error('the rawpub tool is missing: set NETMESH_RAWPUB, or build it with ' +
    '`make build/tools/rawpub` (make node-test does both)');
}

/**
 * Publishes one message byte for byte to a listening embedded server and resolves
 * with JetStream's ack ({ stream, seq, duplicate }): a way to store a record
 * netmesh never writes. Runs the Go tool the Python tests use too.
 */
function rawPublish(url, subject, payload, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const child = execFile(rawpubPath(), ['-timeout', `${timeoutMs}ms`, url, subject],
      { encoding: 'utf8', timeout: timeoutMs + 10000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`rawpub failed (${err.code ?? err.signal}): ${stderr.trim()}`));
        else resolve(JSON.parse(stdout));
      });
    child.stdin.end(Buffer.from(payload));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = { netmesh, storeDir, config, openBus, libraryErrors, rawPublish, sleep };
