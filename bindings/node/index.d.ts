/**
 * netmesh for Node.js: a schema-agnostic JSON event bus over NATS JetStream,
 * through libnetmesh.so (koffi).
 *
 * - The C ABI, its requests and results: docs/reference.md in the repository
 *   ("Config", "Publish", "Poll", "Groups", "Stats", "Errors").
 * - Every method returns a Promise; every library function that enters Go runs on
 *   libuv's worker threads (koffi `.async`), so the event loop never blocks. A
 *   poll that waits (`waitMs`) holds one of those threads while it waits: the
 *   pool has UV_THREADPOOL_SIZE threads (default 4) shared with fs, dns.lookup and
 *   zlib, so raise UV_THREADPOOL_SIZE if you run several long-waiting consumers.
 *   The one synchronous call is mesh_free, made on the main thread by koffi's
 *   disposer to release each string the library returned: it is plain C (a
 *   free()) and never enters Go.
 * - 64-bit values that can exceed 2^53 are never plain numbers: event ids,
 *   timestamps and ack sequences are **decimal strings** (`BigInt(event.id)` when
 *   you need arithmetic), the handle is a `bigint`. Counts are numbers.
 * - Options that are `undefined` or `null` are not sent (the library's default).
 * - Types are checked here (TypeError); values (ranges, formats) by the library,
 *   which rejects with `MeshError` code `invalid_argument` naming the field.
 *   Integer options accept a `number` that is an integer, or a `bigint`.
 * - Event JSON is decoded with JSON.parse, so numbers inside events beyond 2^53
 *   lose precision as with any JSON.parse; publish such events as `RawEvent`
 *   text to store them exactly.
 * - The library is found through `NETMESH_LIBRARY`, then the package's copy
 *   (`prebuilds/<platform>-<arch>/libnetmesh.so`), then the system's
 *   `libnetmesh.so.0` (by name, through the dynamic loader), then in a `build/`
 *   directory above the package. One of another ABI version is refused with
 *   `LibraryVersionError` (by the first call that needs it).
 * - Options objects are exact: a misspelt option is a type error here, and a
 *   TypeError (options) or MeshError `invalid_argument` (config) at run time.
 */

import type { BaseConfig, BaseStats, BusMethods } from './types.js';

// What the wasm binding shares (errors, events, options, results, the Bus methods).
export * from './types.js';

/**
 * The library was found and loaded, but its mesh_abi_version() is not the
 * ABI_VERSION this binding is written for.
 */
export class LibraryVersionError extends Error {
  readonly name: 'LibraryVersionError';
  /** The library's path. */
  readonly path: string;
  /** The ABI version the library reports. */
  readonly found: number;
  /** The ABI version this binding needs (ABI_VERSION). */
  readonly expected: number;
  constructor(path: string, found: number, expected?: number);
}

/** The embedded server (`Config.embedded`). */
export interface EmbeddedConfig {
  /** Default "netmesh-data". */
  store_dir?: string;
  /** host:port to also serve other processes (loopback unless auth is set). */
  listen?: string | null;
  /** Memory storage: fast, not durable. */
  memory?: boolean;
  /**
   * Also serve WebSocket clients (browsers, bindings/wasm) on `listen`, host:port
   * (loopback unless auth is set; port 0 picks one: `Stats.server.websocket_url`).
   */
  websocket?: { listen: string } | null;
}

/** TLS towards `url` servers (`Config.tls`); cert and key together. null: absent. */
export interface TlsConfig {
  ca_file?: string | null;
  cert_file?: string | null;
  key_file?: string | null;
}

/**
 * The configuration object (docs/reference.md, "Config"). Exact: the library
 * refuses unknown fields, and so does this type. null is "absent" only where
 * the type says so.
 */
export interface Config extends BaseConfig {
  /** One URL or comma-separated cluster seeds; absent: the embedded server. */
  url?: string | null;
  /** Only without `url`. */
  embedded?: EmbeddedConfig | null;
  tls?: TlsConfig | null;
}

/** Counters and health of one handle (docs/reference.md, "Stats"). */
export interface Stats extends BaseStats {
  /** `url` has any credentials redacted; `websocket_url` with `embedded.websocket`. */
  server: { url: string; version: string; batched_reads: boolean; websocket_url?: string };
}

/** An open bus: the methods of `BusMethods` (types.d.ts), and those below. */
export interface Bus extends BusMethods {}
export class Bus {
  private constructor();
  /**
   * Opens a bus (the embedded server unless `url` is set). Rejects with MeshError,
   * TypeError for a config that is not a plain object, LibraryVersionError for a
   * library of another ABI version.
   */
  static open(config?: Config): Promise<Bus>;
  /** The library handle (a u64), for diagnostics. */
  readonly handle: bigint;
  /** Counters and health of this handle. */
  stats(): Promise<Stats>;
}

/** The ABI version this binding is written for. */
export const ABI_VERSION: 1;
/**
 * The library path that will be loaded (`'libnetmesh.so.0'`, a bare name: the
 * system's, found by loading it). Throws when none is found, naming every place.
 */
export function findLibrary(): string;
/** The places tried, in order; the bare name `'libnetmesh.so.0'` is the dynamic loader's search. */
export function candidatePaths(): string[];
/**
 * The loaded library's version and ABI version. Rejects with LibraryVersionError
 * when the library has another ABI version.
 */
export function libraryVersion(): Promise<{ version: string; abi: number }>;
