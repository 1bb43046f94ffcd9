/**
 * The types both bindings share, Node (bindings/node, libnetmesh.so through
 * koffi) and WebAssembly (bindings/wasm, build/netmesh.wasm): errors, events,
 * the options and results of publish, poll, commit and consume, and the Bus
 * methods. Each binding's index.d.ts re-exports them (`export *`) beside what is
 * its own: Config, Stats, Bus.open and the loading of the library or the wasm.
 *
 * This file is the one source. `make wasm` copies it to bindings/wasm/types.d.ts
 * (gitignored); the declarations are the same for CommonJS and ES modules.
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

/**
 * Credentials (`Config.auth`): user and password together, or a token; the files
 * for `url` only. null: absent.
 */
export interface AuthConfig {
  user?: string | null;
  password?: string | null;
  token?: string | null;
  creds_file?: string | null;
  nkey_seed_file?: string | null;
}

/** Consumer groups (`Config.groups`). */
export interface GroupsConfig {
  /**
   * A member silent this long is dead and its shards go to the others:
   * 1000..600000 ms, default 10000.
   */
  session_ms?: number;
}

/**
 * The configuration fields both bindings take (docs/reference.md, "Config");
 * each binding's `Config` extends it with `url` and what is its own. Exact: the
 * library refuses unknown fields, and so do the types.
 */
export interface BaseConfig {
  /** Stream prefix, [A-Za-z0-9_-]{1,64}. Default "netmesh". */
  prefix?: string;
  /** 1..1024, default 16. */
  shards?: number;
  /** 1..5, default 1 (more than 1 needs `url`). */
  replicas?: number;
  dedup_window_ms?: number;
  /** Stream limits (discard old); null: unlimited. */
  max_messages?: number | null;
  max_bytes?: number | null;
  max_age_ms?: number | null;
  connect_timeout_ms?: number;
  request_timeout_ms?: number;
  max_request_bytes?: number;
  auth?: AuthConfig | null;
  log_level?: 'off' | 'error' | 'warn' | 'info' | 'debug';
  /** Consumer groups. */
  groups?: GroupsConfig;
}

export type Int = number | bigint;

/** Options of `publish` (docs/reference.md, "Publish"). */
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

/** The options every poll takes, with a cursor or in a group. */
export interface BasePollOptions {
  /** 1..10000, default 100. */
  limit?: Int | null;
  /** How long an empty poll waits for the first new event (0..300000, default 0). */
  waitMs?: Int | null;
  /** Where shards missing from the cursor (or never committed by the group) start. Default "earliest". */
  start?: 'earliest' | 'latest' | null;
  /** Skip structurally corrupt records instead of failing with `fatal`. */
  skipCorrupt?: boolean | null;
  /** Bound for each server request. */
  timeoutMs?: Int | null;
}

/** Options of a poll that follows a cursor (docs/reference.md, "Poll"). */
export interface CursorPollOptions extends BasePollOptions {
  /** A `nextCursor` from an earlier poll; absent: every shard starts at `start`. */
  cursor?: string | null;
  /** Poll this shard only (default: all, filled fairly). */
  shard?: Int | null;
  /** Not a group poll. */
  group?: null;
  /** Only with `group`. */
  member?: null;
  /** Only with `group`. */
  autoCommit?: null;
}

/**
 * Options of a consumer group poll (docs/reference.md, "Groups"): the group
 * assigns the shards and holds the positions, so there is no cursor or shard.
 */
export interface GroupPollOptions extends BasePollOptions {
  /** The group, [A-Za-z0-9_-]{1,64}. */
  group: string;
  /**
   * This member's id, [A-Za-z0-9_-]{1,64}; default one per Bus. A bus is one
   * member of a group: another member id for a group it polled is refused.
   */
  member?: string | null;
  /** Commit this member's previous poll's `nextCursor` before reading. */
  autoCommit?: boolean | null;
  /** Refused with a group (the group's position replaces it). */
  cursor?: null;
  /** Refused with a group (the group assigns the shards). */
  shard?: null;
}

/** Options of `poll`: with a cursor, or as a member of a consumer group. */
export type PollOptions = CursorPollOptions | GroupPollOptions;

/** What `consume` and `consumeBatches` take besides the poll options. */
export interface ConsumeExtraOptions {
  /** Stop once an empty poll finds nothing more (default: follow forever). */
  stopAtEnd?: boolean;
  /** Stop when aborted (checked between polls). */
  signal?: AbortSignal;
}

/** Options of `consume` and `consumeBatches` following a cursor. */
export interface CursorConsumeOptions extends CursorPollOptions, ConsumeExtraOptions {}

/**
 * Options of `consume` and `consumeBatches` in a consumer group: each batch is
 * committed once handed out, so there is no `autoCommit`.
 */
export interface GroupConsumeOptions extends Omit<GroupPollOptions, 'autoCommit'>, ConsumeExtraOptions {}

/** Options of `consume` and `consumeBatches`: those of `poll`, and two more. */
export type ConsumeOptions = CursorConsumeOptions | GroupConsumeOptions;

/** Options of `commit`. */
export interface CommitOptions {
  /** The group the cursor was polled as. */
  group: string;
  /** Bound for the commit. */
  timeoutMs?: Int | null;
}

/** What `commit` resolves with. */
export interface CommitResult {
  /** Shards whose positions were stored (or were already at or past the cursor's), ascending. */
  committed: number[];
  /**
   * Shards of the cursor this member no longer holds (moved to another member, or
   * its session ran out): not written; their new owner reads their uncommitted events.
   */
  revoked: number[];
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
  /**
   * For a group poll: the shards this member holds now, ascending (maybe none).
   * Absent for a poll with a cursor.
   */
  assigned?: number[];
}

/** The result of a consumer group poll: `assigned` is always there. */
export interface GroupPollResult<T = unknown> extends PollResult<T> {
  /** The shards this member holds now, ascending (maybe none). */
  assigned: number[];
}

/** One shard of a group in `Stats.groups`. */
export interface GroupShardStats {
  shard: number;
  /** The group's committed position: a u64 as a decimal string ("0": never committed). */
  committed: string;
  /** Events after the committed position, as far as this handle's polls have seen. */
  lag: number;
}

/** One consumer group this handle is a member of (`Stats.groups`). */
export interface GroupStats {
  group: string;
  member: string;
  /** The shards this member holds. */
  assigned: number[];
  shards: GroupShardStats[];
}


/**
 * What both bindings' `Stats` hold (docs/reference.md, "Stats"); each binding's
 * `Stats` extends it.
 */
export interface BaseStats {
  published: number;
  duplicates: number;
  polled: number;
  skipped: number;
  /** Failed calls by code (not `invalid_handle`: no bus is found to count it). */
  errors: Record<Exclude<MeshErrorCode, 'invalid_handle'>, number>;
  shards: number;
  prefix: string;
  embedded: boolean;
  /** `url` has any credentials redacted. */
  server: { url: string; version: string; batched_reads: boolean };
  healthy: boolean;
  /** The consumer groups this handle polled, by name; absent when none. */
  groups?: GroupStats[];
}

/**
 * The methods both bindings' `Bus` has; each binding's `Bus` adds `open`,
 * `handle` and `stats`.
 */
export interface BusMethods {
  /** True once close() was called. */
  readonly closed: boolean;
  /**
   * Stores a batch; resolves once every event is acknowledged. `events`: an array
   * or other iterable of JSON values or RawEvents (not a string or Buffer: TypeError).
   */
  publish(events: Iterable<EventValue | RawEvent>, options?: PublishOptions): Promise<PublishResult>;
  /**
   * Reads up to `limit` events after `cursor`; or with `group`, as a member of
   * that consumer group, from the group's positions (the result's `nextCursor` is
   * then what commit() takes).
   */
  poll<T = unknown>(options: GroupPollOptions): Promise<GroupPollResult<T>>;
  poll<T = unknown>(options?: CursorPollOptions): Promise<PollResult<T>>;
  poll<T = unknown>(options?: PollOptions): Promise<PollResult<T>>;
  /**
   * Stores a consumer group's positions: those of `cursor`, the `nextCursor` of
   * this bus's poll of `options.group`, for the shards this member still holds.
   * Rejects with `invalid_argument` (nothing stored) for a plain poll's cursor,
   * another group's or member's, or a group this bus has not polled.
   */
  commit(cursor: string, options: CommitOptions): Promise<CommitResult>;
  /**
   * Follows the cursor event by event; an empty poll waits `waitMs` (default 1000).
   * Ends on `break`, when the bus is closed (no error), on `signal` abort, or with
   * `stopAtEnd` when nothing more is there. With `group`, reads as a member of that
   * consumer group and commits each batch once all its events were handed out (the
   * loop went on past the batch's last event, or left right after it); a batch left
   * unfinished is read again by the group after this bus closes (at-least-once).
   */
  consume<T = unknown>(options?: ConsumeOptions): AsyncGenerator<MeshEvent<T>, void, undefined>;
  /**
   * As consume(), a non-empty batch at a time (save `nextCursor` to resume). With
   * `group`, a batch is committed when the loop goes on past it or leaves holding it.
   */
  consumeBatches<T = unknown>(options: GroupConsumeOptions): AsyncGenerator<GroupPollResult<T>, void, undefined>;
  consumeBatches<T = unknown>(options?: CursorConsumeOptions): AsyncGenerator<PollResult<T>, void, undefined>;
  consumeBatches<T = unknown>(options?: ConsumeOptions): AsyncGenerator<PollResult<T>, void, undefined>;
  /**
   * Shuts the bus down; calls racing it reject with code `shutdown`, later ones
   * with `invalid_handle`. Idempotent: only the first close() can reject (e.g.
   * `transient` when the drain timed out; the handle is released anyway); every
   * later one resolves once the first has finished.
   */
  close(): Promise<void>;
}
