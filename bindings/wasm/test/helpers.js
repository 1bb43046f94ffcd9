// Shared by the wasm tests: a real embedded server (the C library through the
// Node binding, in this process) with a WebSocket listener, and wasm buses on it.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { Bus } from '../index.js';

const require = createRequire(import.meta.url);
/** The Node FFI binding (libnetmesh.so through koffi). */
export const native = require('../../node/index.js');

export function tempDir(t, name) {
  const dir = mkdtempSync(join(tmpdir(), `netmesh-wasm-${name}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Opens the C library's bus on an embedded memory server of its own that also
 * listens on loopback for NATS (`nats`) and WebSocket (`ws`) clients.
 */
export async function startHost(t, config = {}) {
  const host = await native.Bus.open({
    embedded: { memory: true, store_dir: tempDir(t, 'host'), listen: '127.0.0.1:0', websocket: { listen: '127.0.0.1:0' } },
    log_level: 'off',
    ...config,
  });
  t.after(() => host.close());
  const { server } = await host.stats();
  return { host, ws: server.websocket_url, nats: server.url };
}

/** A wasm bus (closed when the test ends) over the ws package's WebSocket. */
export async function openWasm(t, config) {
  const bus = await Bus.open({ log_level: 'off', ...config }, { WebSocket });
  t.after(() => bus.close());
  return bus;
}

/** Resolves with what fn resolves, or rejects after ms. */
export function within(ms, what, promise) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
