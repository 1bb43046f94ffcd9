/**
 * netmesh in WebAssembly: the same bus from a browser, Deno or Node, over a
 * nats-server WebSocket listener.
 *
 * build/netmesh.wasm is core (the Go code of libnetmesh.so) built for
 * GOOS=js: the same validation, routing, records, cursors, publish and poll.
 * It has no embedded server; `url` names a WebSocket listener (ws:// or
 * wss://), reached through the host's WebSocket. Requests, results and error
 * codes are those of the Node binding (bindings/node) and the C ABI
 * (docs/reference.md). Types and documentation: index.d.ts.
 */

import { CODES, MeshError, RawEvent, checkOptions, checkConfig, BusBase } from './requests.js';

export { MeshError, RawEvent };

// ---------------------------------------------------------------------------
// The Go runtime: one instance per realm, shared by every Bus.

let runtime = null; // Promise of the API object main.go hands over

const isNode = typeof process !== 'undefined' && !!(process.versions && process.versions.node);

/** Where netmesh.wasm is by default: $NETMESH_WASM in Node, else build/ of a checkout. */
function defaultWasm() {
  if (isNode && process.env.NETMESH_WASM) return process.env.NETMESH_WASM;
  return new URL('../../build/netmesh.wasm', import.meta.url);
}

function toURL(where) {
  if (where instanceof URL) return where;
  if (isNode && !/^[a-z][a-z0-9+.-]*:/i.test(where)) {
    return new URL(`file://${where.startsWith('/') ? '' : `${process.cwd()}/`}${where}`);
  }
  return new URL(where, globalThis.location ? globalThis.location.href : undefined);
}

async function fetchBytes(url) {
  if (url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return readFile(url);
  }
  const resp = await fetch(url);
  if (!resp.ok) throw new Error(`netmesh.wasm: GET ${url} answered ${resp.status}`);
  return new Uint8Array(await resp.arrayBuffer());
}

/**
 * Loads and starts the Go runtime once. `wasm`: a URL or path of netmesh.wasm,
 * its bytes, or a compiled WebAssembly.Module. wasm_exec.js (Go's loader) is
 * imported from next to a wasm given by URL or path unless globalThis.Go exists.
 */
function start(wasm) {
  if (runtime) return runtime;
  runtime = (async () => {
    const where = wasm === undefined ? defaultWasm() : wasm;
    const url = typeof where === 'string' || where instanceof URL ? toURL(where) : null;
    if (typeof globalThis.Go !== 'function') {
      if (!url) throw new Error('netmesh.wasm given as bytes: load wasm_exec.js (globalThis.Go) first');
      await import(new URL('wasm_exec.js', url).href);
    }
    let module = where instanceof WebAssembly.Module ? where : null;
    if (!module) module = await WebAssembly.compile(url ? await fetchBytes(url) : where);
    const go = new globalThis.Go();
    const name = `__netmeshWasm${Math.random().toString(36).slice(2)}`;
    const api = new Promise((resolve) => { globalThis[name] = resolve; });
    go.argv = ['netmesh.wasm', name];
    go.env = {};
    const instance = await WebAssembly.instantiate(module, go.importObject);
    const exited = go.run(instance).then(() => { throw new Error('the netmesh.wasm runtime exited'); });
    try {
      return await Promise.race([api, exited]);
    } finally {
      delete globalThis[name];
    }
  })();
  runtime.catch(() => { runtime = null; });
  return runtime;
}

/** Calls into Go; a rejection {status, text} becomes MeshError. */
async function settle(promise) {
  try {
    return await promise;
  } catch (err) {
    if (err && typeof err.status === 'number') throw MeshError.fromResponse(err.status, err.text);
    throw err;
  }
}

const OPEN_OPTIONS = ['WebSocket', 'wasm'];

// ---------------------------------------------------------------------------

/**
 * An open bus. Open with `await Bus.open(config, options)`. publish, poll,
 * commit and the consume loops are BusBase's (requests.js, shared with the Node
 * binding); this class makes the calls into the wasm.
 */
export class Bus extends BusBase {
  /** @private Use Bus.open(). */
  constructor(api, handle) {
    super(handle);
    this._api = api;
  }

  /**
   * Opens a bus on the nats-server WebSocket listener `config.url`. Options:
   * `WebSocket`, the constructor to use (default globalThis.WebSocket; in Node
   * before 22 pass the ws package's); `wasm`, where netmesh.wasm is.
   */
  static async open(config = {}, options = undefined) {
    checkConfig(config);
    const o = checkOptions('open', options, OPEN_OPTIONS);
    const ctor = o.WebSocket === undefined ? globalThis.WebSocket : o.WebSocket;
    if (typeof ctor !== 'function') {
      throw new TypeError('no WebSocket constructor: this host has no global WebSocket; pass one, ' +
        "e.g. Bus.open(config, { WebSocket: (await import('ws')).WebSocket })");
    }
    const text = JSON.stringify(config);
    const api = await start(o.wasm);
    const handle = await settle(api.open(text, ctor));
    return new Bus(api, Number(handle));
  }

  /** The response text of one operation (the C ABI's JSON, byte for byte). */
  async _raw(op, text) {
    return settle(this._api.call(op, this._handle, text));
  }

  /** BusBase's transport: the wasm's `op` ('publish', 'poll', 'commit'). */
  async _call(op, text) {
    return JSON.parse(await this._raw(op, text));
  }

  /** Counters and health of this bus. */
  async stats() {
    return this._call('stats', '');
  }

  /** Shuts the bus down; idempotent, only the first close() can reject. */
  close() {
    if (this._closing) return this._closing;
    this._closed = true;
    const first = settle(this._api.call('close', this._handle, '')).then(() => {});
    this._closing = first.then(() => {}, () => {});
    return first;
  }
}

/** The version of the loaded netmesh.wasm (core.Version); loads it if needed. */
export async function wasmVersion(wasm = undefined) {
  return (await start(wasm)).version;
}

export { CODES as _codes };
