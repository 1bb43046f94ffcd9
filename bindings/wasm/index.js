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

import {
  CODES, MeshError, RawEvent, describe, intField, strField, boolField, checkOptions, request,
  encodeEventArray, POLL_OPTIONS, CONSUME_OPTIONS, PUBLISH_OPTIONS, COMMIT_OPTIONS, pollRequest,
} from './requests.js';

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

/** An open bus. Open with `await Bus.open(config, options)`. */
export class Bus {
  /** @private Use Bus.open(). */
  constructor(api, handle) {
    this._api = api;
    this._handle = handle;
    this._closed = false;
    this._closing = null;
  }

  /**
   * Opens a bus on the nats-server WebSocket listener `config.url`. Options:
   * `WebSocket`, the constructor to use (default globalThis.WebSocket; in Node
   * before 22 pass the ws package's); `wasm`, where netmesh.wasm is.
   */
  static async open(config = {}, options = undefined) {
    const proto = config !== null && typeof config === 'object' ? Object.getPrototypeOf(config) : undefined;
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(`config must be a plain object, got ${describe(config)}`);
    }
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

  /** The handle inside the wasm, for diagnostics. */
  get handle() { return this._handle; }

  /** True once close() was called. */
  get closed() { return this._closed; }

  /** The response text of one operation (the C ABI's JSON, byte for byte). */
  async _raw(op, text) {
    return settle(this._api.call(op, this._handle, text));
  }

  async _request(op, text) {
    return JSON.parse(await this._raw(op, text));
  }

  /** Stores a batch of events and resolves once every one is acknowledged. */
  async publish(events, opts) {
    const array = encodeEventArray(events);
    const o = checkOptions('publish', opts, PUBLISH_OPTIONS);
    const text = request([
      ['shard', intField, o.shard],
      ['batch_id', strField, o.batchId],
      ['timeout_ms', intField, o.timeoutMs],
      ['acks', boolField, o.acks],
    ], `"events":${array}`);
    const resp = await this._request('publish', text);
    const result = { published: resp.published, duplicates: resp.duplicates };
    if (resp.acks) result.acks = resp.acks;
    return result;
  }

  /** Reads up to `limit` events after `cursor`, or as a member of `group`. */
  async poll(opts) {
    const o = checkOptions('poll', opts, POLL_OPTIONS);
    const resp = await this._request('poll', pollRequest(o));
    const result = {
      events: resp.events.map((e) => ({ id: e.id, shard: e.shard, ts: e.ts, data: e.raw })),
      nextCursor: resp.next_cursor,
      hasMore: resp.has_more,
      skipped: resp.skipped,
    };
    if (resp.assigned !== undefined) result.assigned = resp.assigned;
    return result;
  }

  /** Stores a consumer group's positions from a group poll's `nextCursor`. */
  async commit(cursor, opts) {
    if (typeof cursor !== 'string') throw new TypeError(`cursor must be a string, got ${describe(cursor)}`);
    const o = checkOptions('commit', opts, COMMIT_OPTIONS);
    if (typeof o.group !== 'string') throw new TypeError(`commit needs the group option (a string), got ${describe(o.group)}`);
    const text = request([
      ['group', strField, o.group],
      ['cursor', strField, cursor],
      ['timeout_ms', intField, o.timeoutMs],
    ]);
    const resp = await this._request('commit', text);
    return { committed: resp.committed, revoked: resp.revoked };
  }

  /** Follows the cursor, yielding each non-empty poll result. */
  consumeBatches(opts) {
    return this._batches(opts, { complete: true });
  }

  _batches(opts, handout) {
    const o = { ...checkOptions('consume', opts, CONSUME_OPTIONS) };
    if (o.waitMs === undefined || o.waitMs === null) o.waitMs = 1000;
    pollRequest({ ...o, stopAtEnd: undefined, signal: undefined }); // type errors now, not at the first next()
    if (o.stopAtEnd !== undefined) boolField('stopAtEnd', o.stopAtEnd);
    if (o.signal !== undefined && !(o.signal && typeof o.signal.aborted === 'boolean')) {
      throw new TypeError(`signal must be an AbortSignal, got ${describe(o.signal)}`);
    }
    return this._consume(o, handout);
  }

  _closedError(err) {
    return this._closed && err instanceof MeshError && (err.code === 'shutdown' || err.code === 'invalid_handle');
  }

  // As the Node binding's: with a group, a batch is committed once handed out.
  async* _consume(o, handout = { complete: true }) {
    const { stopAtEnd = false, signal, ...pollOpts } = o;
    const { group, timeoutMs } = pollOpts;
    let cursor = pollOpts.cursor;
    const commit = async (batch) => {
      try {
        await this.commit(batch.nextCursor, { group, timeoutMs });
        return true;
      } catch (err) {
        if (this._closedError(err)) return false;
        throw err;
      }
    };
    while (!this._closed && !(signal && signal.aborted)) {
      let batch;
      try {
        batch = await this.poll({ ...pollOpts, cursor });
      } catch (err) {
        if (this._closedError(err)) return;
        throw err;
      }
      if (group === undefined || group === null) {
        cursor = batch.nextCursor;
        if (batch.events.length > 0) yield batch;
        else if (stopAtEnd && !batch.hasMore) return;
        continue;
      }
      if (batch.events.length > 0) {
        let resumed = false;
        try {
          yield batch;
          resumed = true;
        } finally {
          if (!resumed && handout.complete) await commit(batch);
        }
      }
      if ((batch.events.length > 0 || batch.skipped > 0) && !(await commit(batch))) return;
      if (batch.events.length === 0 && stopAtEnd && !batch.hasMore) return;
    }
  }

  /** An async iterator of events that follows the cursor (see index.d.ts). */
  consume(opts) {
    const handout = { complete: true };
    const batches = this._batches(opts, handout);
    return (async function* events() {
      try {
        for await (const batch of batches) {
          const { events } = batch;
          handout.complete = false;
          for (let i = 0; i < events.length - 1; i++) yield events[i];
          handout.complete = true;
          yield events[events.length - 1];
        }
      } finally {
        await batches.return();
      }
    })();
  }

  /** Counters and health of this bus. */
  async stats() {
    return this._request('stats', '');
  }

  /** Shuts the bus down; idempotent, only the first close() can reject. */
  close() {
    if (this._closing) return this._closing;
    this._closed = true;
    const first = settle(this._api.call('close', this._handle, '')).then(() => {});
    this._closing = first.then(() => {}, () => {});
    return first;
  }

  async [Symbol.asyncDispose || Symbol.for('Symbol.asyncDispose')]() {
    await this.close();
  }
}

/** The version of the loaded netmesh.wasm (core.Version); loads it if needed. */
export async function wasmVersion(wasm = undefined) {
  return (await start(wasm)).version;
}

export { CODES as _codes };
