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
const { CODES, MeshError, RawEvent, checkConfig, BusBase } = require('./requests.js');

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
 * Methods return Promises and may be called concurrently. publish, poll, commit
 * and the consume loops are BusBase's (requests.js, shared with the wasm
 * binding); this class makes the library calls.
 */
class Bus extends BusBase {
  /** @private Use Bus.open(). */
  constructor(n, handle, pid) {
    super(handle);
    this._n = n;
    this._pid = pid;
  }

  /** Opens a bus; `config` is the JSON configuration object (docs/reference.md, "Config"). */
  static async open(config = {}) {
    checkConfig(config);
    const text = Buffer.from(JSON.stringify(config), 'utf8');
    const n = await ready();
    const handleOut = [null];
    const errorOut = [null];
    const status = await callAsync(n.fns.init, text, text.length, handleOut, errorOut);
    if (status !== 0) throw MeshError.fromResponse(status, errorOut[0]);
    return new Bus(n, BigInt(handleOut[0]), process.pid);
  }

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

  /** BusBase's transport: the library function of `op` ('publish', 'poll', 'commit'). */
  _call(op, text) {
    const fn = this._n.fns[op];
    // Only fns.commit may be null (a library from before consumer groups).
    if (!fn) throw new Error(`${this._n.file} has no mesh_commit: consumer groups need a newer libnetmesh`);
    return this._request(fn, text);
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
