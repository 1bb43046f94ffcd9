'use strict';
/**
 * netmesh for Node.js: a schema-agnostic JSON event bus over NATS JetStream.
 *
 * A thin binding of libnetmesh.so over koffi; the C ABI, its requests and results
 * are documented in docs/reference.md ("Config", "Publish", "Poll", "Stats",
 * "Errors"). Every function that enters Go (init, publish, poll, commit, stats,
 * shutdown, version, abi version) runs on libuv's worker threads through koffi's `.async`,
 * so the event loop never blocks: not even for a poll that waits (`waitMs`), and
 * never for a cgo entry from the main thread, which would cost about 0.2 ms (Go
 * re-reads the thread's stack bounds from /proc/self/maps). The one function called
 * synchronously, on the main thread, is mesh_free: koffi's disposer calls it to
 * release each string the library returned. It is plain C in the library (a
 * free()) and never enters Go, so it costs what a free() costs.
 *
 * Types and documentation: index.d.ts.
 */

const fs = require('node:fs');
const path = require('node:path');
const {
  CODES, MeshError, RawEvent, describe, intField, strField, boolField, checkOptions, request,
  encodeEventArray, POLL_OPTIONS, PUBLISH_OPTIONS, COMMIT_OPTIONS, CONSUME_OPTIONS, pollRequest,
} = require('./requests.js');

const ABI_VERSION = 1;
const LIBRARY_NAME = 'libnetmesh.so';
// The system's library, loaded by name: libnetmesh.so.<major of the version>, its
// SONAME (`make version-check` checks it against core.Version).
const SONAME = 'libnetmesh.so.0';
const ENV_VAR = 'NETMESH_LIBRARY';
const LOADER_PATH = 'LD_LIBRARY_PATH, /etc/ld.so.cache, /lib, /usr/lib';

/**
 * The library was found and loaded, but its mesh_abi_version() is not the
 * ABI_VERSION this binding is written for. `path` is the library, `found` the
 * version it reports, `expected` ABI_VERSION.
 */
class LibraryVersionError extends Error {
  constructor(path, found, expected = ABI_VERSION) {
    super(`${path} has ABI version ${found}; this binding needs ${expected}`);
    this.name = 'LibraryVersionError';
    this.path = path;
    this.found = found;
    this.expected = expected;
  }
}

// ---------------------------------------------------------------------------
// Finding and loading the library

/**
 * The places tried, in order: $NETMESH_LIBRARY; the package's prebuilt copy,
 * prebuilds/<platform>-<arch>/libnetmesh.so (the npm tarball of `make dist`
 * carries it); SONAME, a bare name the dynamic loader looks up (the system's C
 * library); then build/libnetmesh.so in the package's directory or one above it
 * (a checkout).
 */
function candidatePaths() {
  const paths = [];
  if (process.env[ENV_VAR]) paths.push(process.env[ENV_VAR]);
  paths.push(path.join(__dirname, 'prebuilds', `${process.platform}-${process.arch}`, LIBRARY_NAME));
  paths.push(SONAME);
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    paths.push(path.join(dir, 'build', LIBRARY_NAME));
    if (path.dirname(dir) === dir) break;
  }
  return paths;
}

/**
 * Finds the library: `{ file, lib }`, where `lib` is the koffi library when finding
 * it meant loading it (the system's, looked up by name). NETMESH_LIBRARY, when
 * set, must exist.
 */
function locate() {
  const env = process.env[ENV_VAR];
  if (env) {
    if (!fs.existsSync(env)) throw new Error(`${ENV_VAR}=${JSON.stringify(env)} does not exist`);
    return { file: env, lib: null };
  }
  const tried = [`${ENV_VAR} (not set)`];
  for (const candidate of candidatePaths()) {
    if (candidate === SONAME) {
      try {
        return { file: SONAME, lib: require('koffi').load(SONAME) };
      } catch (err) {
        tried.push(`${SONAME} through the dynamic loader (${LOADER_PATH}): ${err.message}`);
        continue;
      }
    }
    if (fs.existsSync(candidate)) return { file: candidate, lib: null };
    tried.push(candidate);
  }
  throw new Error(`${LIBRARY_NAME} not found; looked in: ${tried.join('; ')}. Install the ` +
    `netmesh npm package or the C library (${SONAME}), set ${ENV_VAR} to its path, or ` +
    'build it with `make build/libnetmesh.so` in a checkout');
}

/** The library path to load (SONAME: the system's, by name); NETMESH_LIBRARY, when set, must exist. */
function findLibrary() {
  return locate().file;
}

let native = null; // the loaded library, once

/**
 * Loads the library and declares its functions.
 *
 * Strings returned through `char **` out parameters use a koffi disposable type:
 * koffi decodes the UTF-8 string, then hands the original pointer to the disposer,
 * which releases it with mesh_free. mesh_free is plain C in the library (it never
 * enters the Go runtime), so it is the one function called synchronously on the
 * main thread: it costs a free(), not the slow main-thread cgo entry every other
 * call avoids by running on koffi's worker threads.
 *
 * mesh_abi_version is declared first: a library of another ABI version may lack
 * the other functions, and ready() must still report LibraryVersionError for it
 * (the error of declaring them is kept for ready() to throw if the version is right).
 */
function load() {
  if (native) return native;
  const koffi = require('koffi');
  const found = locate();
  const file = found.file;
  const lib = found.lib || koffi.load(file);
  const fns = { abiVersion: lib.func('uint32_t mesh_abi_version(void)') };
  let declareError = null;
  try {
    // Anonymous (not a named koffi type), so two copies of this package in one
    // process cannot clash over a type name.
    const MeshStr = koffi.disposable(koffi.types.str, (ptr) => {
      if (ptr !== null && ptr !== 0n) fns.free(ptr);
    });
    const strOut = koffi.out(koffi.pointer(MeshStr));
    Object.assign(fns, {
      init: lib.func('mesh_init', 'int32_t', ['const char *', 'size_t', koffi.out(koffi.pointer('uint64_t')), strOut]),
      publish: lib.func('mesh_publish_batch', 'int32_t', ['uint64_t', 'const char *', 'size_t', strOut]),
      poll: lib.func('mesh_poll', 'int32_t', ['uint64_t', 'const char *', 'size_t', strOut]),
      stats: lib.func('mesh_stats', 'int32_t', ['uint64_t', strOut]),
      shutdown: lib.func('mesh_shutdown', 'int32_t', ['uint64_t', strOut]),
      version: lib.func('const char *mesh_version(void)'), // static: not disposable
      free: lib.func('void mesh_free(void *ptr)'),
    });
    // mesh_commit came with consumer groups, within ABI 1: a library from before
    // them lacks it, and only commit() needs it.
    try {
      fns.commit = lib.func('mesh_commit', 'int32_t', ['uint64_t', 'const char *', 'size_t', strOut]);
    } catch {
      fns.commit = null;
    }
  } catch (err) {
    declareError = err;
  }
  native = { koffi, lib, file, fns, declareError, checked: null };
  return native;
}

/** Calls a library function on a worker thread; resolves with its return value. */
function callAsync(fn, ...args) {
  return new Promise((resolve, reject) => {
    // `args` (with the request Buffers) stays referenced by this closure until
    // the call has completed, so their memory cannot be collected while C reads it.
    fn.async(...args, (err, result) => {
      void args;
      if (err) reject(err);
      else resolve(result);
    });
  });
}

/**
 * Loads the library (once) and checks its ABI version; resolves with it, or
 * rejects with LibraryVersionError (another ABI version) or the loader's error.
 */
function ready() {
  const n = load();
  if (!n.checked) {
    n.checked = callAsync(n.fns.abiVersion).then((abi) => {
      if (abi !== ABI_VERSION) throw new LibraryVersionError(n.file, abi, ABI_VERSION);
      if (n.declareError) throw n.declareError;
      return n;
    });
    n.checked.catch(() => { n.checked = null; });
  }
  return n.checked;
}

/** The library's version string and ABI version, e.g. `{ version: '0.3.0', abi: 1 }`. */
async function libraryVersion() {
  const n = await ready();
  return { version: await callAsync(n.fns.version), abi: await callAsync(n.fns.abiVersion) };
}

/**
 * An open bus (one library handle). Open with `await Bus.open(config)`.
 * Methods return Promises and may be called concurrently.
 */
class Bus {
  /** @private Use Bus.open(). */
  constructor(n, handle, pid) {
    this._n = n;
    this._handle = handle;
    this._pid = pid;
    this._closed = false;
    this._closing = null;
  }

  /** Opens a bus; `config` is the JSON configuration object (docs/reference.md, "Config"). */
  static async open(config = {}) {
    const proto = config !== null && typeof config === 'object' ? Object.getPrototypeOf(config) : undefined;
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(`config must be a plain object, got ${describe(config)}`);
    }
    const text = Buffer.from(JSON.stringify(config), 'utf8');
    const n = await ready();
    const handleOut = [null];
    const errorOut = [null];
    const status = await callAsync(n.fns.init, text, text.length, handleOut, errorOut);
    if (status !== 0) throw MeshError.fromResponse(status, errorOut[0]);
    return new Bus(n, BigInt(handleOut[0]), process.pid);
  }

  /** The library handle, a u64 as BigInt (diagnostics only). */
  get handle() { return this._handle; }

  /** True once close() was called. */
  get closed() { return this._closed; }

  _checkProcess() {
    if (process.pid !== this._pid) {
      throw new MeshError(`this Bus was opened in process ${this._pid}; a forked child ` +
        `(process ${process.pid}) must open its own Bus`, 'invalid_handle', false, null);
    }
  }

  async _request(fn, text) {
    this._checkProcess();
    const buf = Buffer.from(text, 'utf8');
    const out = [null];
    const status = await callAsync(fn, this._handle, buf, buf.length, out);
    if (status !== 0) throw MeshError.fromResponse(status, out[0]);
    return JSON.parse(out[0]);
  }

  /**
   * Stores a batch of events and resolves once every one is acknowledged.
   * `events` is an array or other iterable of JSON values (RawEvent for pre-encoded JSON).
   */
  async publish(events, opts) {
    const array = encodeEventArray(events);
    const o = checkOptions('publish', opts, PUBLISH_OPTIONS);
    const text = request([
      ['shard', intField, o.shard],
      ['batch_id', strField, o.batchId],
      ['timeout_ms', intField, o.timeoutMs],
      ['acks', boolField, o.acks],
    ], `"events":${array}`);
    const resp = await this._request(this._n.fns.publish, text);
    const result = { published: resp.published, duplicates: resp.duplicates };
    if (resp.acks) result.acks = resp.acks;
    return result;
  }

  /**
   * Reads up to `limit` events after `cursor`, or with `group` as a member of that
   * consumer group (then the result has `assigned`, and its `nextCursor` is what
   * commit() takes).
   */
  async poll(opts) {
    const o = checkOptions('poll', opts, POLL_OPTIONS);
    const resp = await this._request(this._n.fns.poll, pollRequest(o));
    const result = {
      events: resp.events.map((e) => ({ id: e.id, shard: e.shard, ts: e.ts, data: e.raw })),
      nextCursor: resp.next_cursor,
      hasMore: resp.has_more,
      skipped: resp.skipped,
    };
    if (resp.assigned !== undefined) result.assigned = resp.assigned;
    return result;
  }

  /**
   * Stores a consumer group's positions: those of `cursor`, the `nextCursor` of
   * this bus's poll of `group`, for the shards this member still holds. Resolves
   * with `{ committed, revoked }`: `revoked` are the cursor's shards that moved to
   * another member meanwhile (not written).
   */
  async commit(cursor, opts) {
    if (typeof cursor !== 'string') throw new TypeError(`cursor must be a string, got ${describe(cursor)}`);
    const o = checkOptions('commit', opts, COMMIT_OPTIONS);
    if (typeof o.group !== 'string') throw new TypeError(`commit needs the group option (a string), got ${describe(o.group)}`);
    const text = request([
      ['group', strField, o.group],
      ['cursor', strField, cursor],
      ['timeout_ms', intField, o.timeoutMs],
    ]);
    const fn = this._n.fns.commit;
    if (!fn) throw new Error(`${this._n.file} has no mesh_commit: consumer groups need a newer libnetmesh`);
    const resp = await this._request(fn, text);
    return { committed: resp.committed, revoked: resp.revoked };
  }

  /**
   * Follows the cursor, yielding each non-empty poll result (to save
   * `nextCursor` after handling a batch). See consume().
   */
  consumeBatches(opts) {
    return this._batches(opts, { complete: true });
  }

  /** Checks the options now (not at the first next()), then returns the batches. */
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

  /** Whether err is what a call gets once this bus is closed. */
  _closedError(err) {
    return this._closed && err instanceof MeshError && (err.code === 'shutdown' || err.code === 'invalid_handle');
  }

  /**
   * The batches; with a group, each batch's nextCursor is committed once it was
   * handed out: when the generator is resumed after it, or returned while it holds
   * it and `handout.complete` (consume() clears it until the batch's last event).
   */
  async* _consume(o, handout = { complete: true }) {
    const { stopAtEnd = false, signal, ...pollOpts } = o;
    const { group, timeoutMs } = pollOpts;
    let cursor = pollOpts.cursor;
    // A commit for a group consume; false once the bus is closed (the batch is then
    // read again by the group: at-least-once).
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
        if (this._closedError(err)) return; // the bus was closed (maybe while this poll waited): stop quietly
        throw err;
      }
      if (group === undefined || group === null) {
        cursor = batch.nextCursor;
        if (batch.events.length > 0) yield batch;
        else if (stopAtEnd && !batch.hasMore) return;
        continue;
      }
      // A group: commit each batch once all of it was handed out (at-least-once);
      // a batch of only skipped records at once.
      if (batch.events.length > 0) {
        let resumed = false;
        try {
          yield batch;
          resumed = true;
        } finally {
          if (!resumed && handout.complete) await commit(batch); // return() right after the batch
        }
      }
      if ((batch.events.length > 0 || batch.skipped > 0) && !(await commit(batch))) return;
      if (batch.events.length === 0 && stopAtEnd && !batch.hasMore) return;
    }
  }

  /**
   * An async iterator of events that follows the cursor. An empty poll waits up to
   * `waitMs` (default 1000) for new events. It ends when the loop is left (`break`),
   * when the bus is closed (also while a poll waits: no error), when `signal` is
   * aborted (checked between polls), or with `stopAtEnd` once nothing more is there.
   */
  consume(opts) {
    const handout = { complete: true };
    const batches = this._batches(opts, handout);
    return (async function* events() {
      try {
        for await (const batch of batches) {
          const { events } = batch; // never empty
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

  /** Counters and health of this handle (the library's stats object). */
  async stats() {
    this._checkProcess();
    const out = [null];
    const status = await callAsync(this._n.fns.stats, this._handle, out);
    if (status !== 0) throw MeshError.fromResponse(status, out[0]);
    return JSON.parse(out[0]);
  }

  /**
   * Shuts the bus down. Calls racing it end with MeshError('shutdown'); later calls
   * with 'invalid_handle'. In another process than the one that opened it, only
   * forgets the handle.
   *
   * Idempotent: only the first close() calls mesh_shutdown, and only it rejects
   * when that fails (e.g. 'transient': the drain timed out). The handle is gone
   * even then, so every later close() resolves, once the first has finished.
   */
  close() {
    if (this._closing) return this._closing;
    this._closed = true;
    if (process.pid !== this._pid) {
      this._closing = Promise.resolve();
      return this._closing;
    }
    const out = [null];
    const first = callAsync(this._n.fns.shutdown, this._handle, out).then((status) => {
      if (status !== 0) throw MeshError.fromResponse(status, out[0]);
    });
    // Later calls wait for the first and resolve: its failure is reported once.
    this._closing = first.then(() => {}, () => {});
    return first;
  }

  /** `await using bus = await Bus.open(...)` support where available. */
  async [Symbol.asyncDispose || Symbol.for('Symbol.asyncDispose')]() {
    await this.close();
  }
}

module.exports = {
  ABI_VERSION,
  Bus,
  LibraryVersionError,
  MeshError,
  RawEvent,
  findLibrary,
  candidatePaths,
  libraryVersion,
};
// For the tests: the loaded library object (its `fns` are what the Bus calls).
Object.defineProperty(module.exports, '_load', { value: load, enumerable: false });
// For the tests: every status the binding knows, by value (checked against mesh_strerror).
Object.defineProperty(module.exports, '_codes', { value: CODES, enumerable: false });
