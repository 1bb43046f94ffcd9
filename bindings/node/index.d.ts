/**
 * netmesh for Node.js: a schema-agnostic JSON event bus over NATS JetStream,
 * through libnetmesh.so (koffi).
 *
 * - Every method returns a Promise; calls into the library run on libuv's worker
 *   threads (koffi `.async`), so the event loop never blocks. A poll that waits
 *   (`waitMs`) holds one of those threads while it waits: the pool has
 *   UV_THREADPOOL_SIZE threads (default 4) shared with fs, dns.lookup and zlib,
 *   so raise UV_THREADPOOL_SIZE if you run several long-waiting consumers at once.
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
 * - The library is found through `NETMESH_LIBRARY`, next to this package
 *   (`libnetmesh.so`), then in a `build/` directory above it.
 */

/** One of the library's error codes. `transient` is the only retryable one. */
export type MeshErrorCode =
  | 'invalid_argument'
  | 'invalid_handle'
  | 'connection'
  | 'transient'
  | 'fatal'
  | 'too_large'
  | 'shutdown'
  | 'internal';

/** Every failure reported by the library (or a bus used in another process). */
export class MeshError extends Error {
  readonly name: 'MeshError';
  /** The library's code string. */
  readonly code: MeshErrorCode | string;
  /** True when repeating the same call may succeed (`transient` only). */
  readonly retryable: boolean;
  /** The numeric MESH_E_* status, or null when raised by the binding itself. */
  readonly status: number | null;
  constructor(message: string, code: string, retryable?: boolean, status?: number | null);
  static fromResponse(status: number, text: string | null): MeshError;
}

/**
 * An event given as JSON text, stored byte for byte as given (checked with
 * JSON.parse when made: exactly one JSON value).
 */
export class RawEvent {
  constructor(text: string | Uint8Array);
  readonly text: string;
}

/** Any JSON value but null (a null event is refused by the library). */
export type EventValue = unknown;

/** The configuration object (DESIGN.md, "Config"); unknown fields are refused. */
export interface Config {
  /** One URL or comma-separated cluster seeds; absent: the embedded server. */
  url?: string;
  embedded?: {
    /** Default "netmesh-data". */
    store_dir?: string;
    /** host:port to also serve other processes (loopback unless auth is set). */
    listen?: string | null;
    /** Memory storage: fast, not durable. */
    memory?: boolean;
  };
  prefix?: string;
  shards?: number;
  replicas?: number;
  dedup_window_ms?: number;
  max_messages?: number | null;
  max_bytes?: number | null;
  max_age_ms?: number | null;
  connect_timeout_ms?: number;
  request_timeout_ms?: number;
  max_request_bytes?: number;
  auth?: { user?: string; password?: string; token?: string; creds_file?: string; nkey_seed_file?: string };
  tls?: { ca_file?: string; cert_file?: string; key_file?: string };
  log_level?: 'off' | 'error' | 'warn' | 'info' | 'debug';
  [field: string]: unknown;
}

export type Int = number | bigint;

export interface PublishOptions {
  /** Put every event in this shard (default: routed by hash). */
  shard?: Int | null;
  /** [A-Za-z0-9_.:-]{1,128}: a retry with the same id is stored exactly once. */
  batchId?: string | null;
  /** Bound for the whole publish, including internal retries. */
  timeoutMs?: Int | null;
  /** Return where each event was stored. */
  acks?: boolean | null;
}

export interface Ack {
  shard: number;
  /** Stream sequence, a u64 as a decimal string. */
  seq: string;
  duplicate: boolean;
}

export interface PublishResult {
  /** Events newly stored. */
  published: number;
  /** Events the server already held (same message id). */
  duplicates: number;
  /** With `acks: true`, one per event in request order. */
  acks?: Ack[];
}

export interface PollOptions {
  /** 1..10000, default 100. */
  limit?: Int | null;
  /** A `nextCursor` from an earlier poll; absent: every shard starts at `start`. */
  cursor?: string | null;
  /** Poll this shard only (default: all, filled fairly). */
  shard?: Int | null;
  /** How long an empty poll waits for the first new event (0..300000, default 0). */
  waitMs?: Int | null;
  /** Where shards missing from the cursor start. Default "earliest". */
  start?: 'earliest' | 'latest' | null;
  /** Skip structurally corrupt records instead of failing with `fatal`. */
  skipCorrupt?: boolean | null;
  /** Bound for each server request. */
  timeoutMs?: Int | null;
}

export interface ConsumeOptions extends PollOptions {
  /** Stop once an empty poll finds nothing more (default: follow forever). */
  stopAtEnd?: boolean;
  /** Stop when aborted (checked between polls). */
  signal?: AbortSignal;
}

export interface MeshEvent<T = unknown> {
  /** Stream sequence within its shard: a u64 as a decimal string. */
  id: string;
  shard: number;
  /** Insertion time in nanoseconds since the Unix epoch: a u64 as a decimal string. */
  ts: string;
  /** The event, decoded with JSON.parse. */
  data: T;
}

export interface PollResult<T = unknown> {
  /** Grouped by shard, in sequence order. */
  events: MeshEvent<T>[];
  /** Pass it back as `cursor` to read on. */
  nextCursor: string;
  /** Some polled shard holds events after `nextCursor`. */
  hasMore: boolean;
  /** Records skipped (unparseable, or corrupt with skipCorrupt). */
  skipped: number;
}

export interface Stats {
  published: number;
  duplicates: number;
  polled: number;
  skipped: number;
  errors: Record<MeshErrorCode, number>;
  shards: number;
  prefix: string;
  embedded: boolean;
  server: { url: string; version: string; batched_reads: boolean };
  healthy: boolean;
  [field: string]: unknown;
}

export class Bus {
  private constructor();
  /** Opens a bus (the embedded server unless `url` is set). Rejects with MeshError. */
  static open(config?: Config): Promise<Bus>;
  /** The library handle (a u64), for diagnostics. */
  readonly handle: bigint;
  /** True once close() was called. */
  readonly closed: boolean;
  /**
   * Stores a batch; resolves once every event is acknowledged. `events`: an array
   * or other iterable of JSON values or RawEvents (not a string or Buffer: TypeError).
   */
  publish(events: Iterable<EventValue | RawEvent>, options?: PublishOptions): Promise<PublishResult>;
  /** Reads up to `limit` events after `cursor`. */
  poll<T = unknown>(options?: PollOptions): Promise<PollResult<T>>;
  /**
   * Follows the cursor event by event; an empty poll waits `waitMs` (default 1000).
   * Ends on `break`, when the bus is closed (no error), on `signal` abort, or with
   * `stopAtEnd` when nothing more is there.
   */
  consume<T = unknown>(options?: ConsumeOptions): AsyncGenerator<MeshEvent<T>, void, undefined>;
  /** As consume(), a non-empty batch at a time (save `nextCursor` to resume). */
  consumeBatches<T = unknown>(options?: ConsumeOptions): AsyncGenerator<PollResult<T>, void, undefined>;
  /** Counters and health of this handle. */
  stats(): Promise<Stats>;
  /**
   * Shuts the bus down; calls racing it reject with code `shutdown`, later ones
   * with `invalid_handle`. Idempotent.
   */
  close(): Promise<void>;
}

/** The ABI version this binding is written for. */
export const ABI_VERSION: 1;
/** The library path that will be loaded. Throws when none is found. */
export function findLibrary(): string;
/** The paths tried, in order. */
export function candidatePaths(): string[];
/** The loaded library's version and ABI version. */
export function libraryVersion(): Promise<{ version: string; abi: number }>;
