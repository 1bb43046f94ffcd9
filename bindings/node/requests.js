'use strict';
/**
 * What the Node and the wasm bindings share: the codes, MeshError, RawEvent, the
 * building of requests and BusBase, the Bus methods that are the same in both
 * (argument checks, requests, results, the consume loops). The bindings only
 * check JavaScript types here (TypeError); the library checks values (MeshError
 * 'invalid_argument').
 *
 * This file is the one source. The Node binding requires it; `make wasm`
 * writes bindings/wasm/requests.js from it as an ES module (the last line's
 * `module.exports = {` becomes `export {`). Nothing here may need Node or a
 * browser.
 */

// Every status the library returns, by value: MESH_OK and the MESH_E_* codes
// (docs/reference.md, "Errors"). A test checks it against mesh_strerror.
const CODES = Object.freeze({
  [0]: 'ok',
  [-1]: 'invalid_argument',
  [-2]: 'invalid_handle',
  [-3]: 'connection',
  [-4]: 'transient',
  [-5]: 'fatal',
  [-6]: 'too_large',
  [-7]: 'shutdown',
  [-99]: 'internal',
});

/**
 * Every failure reported by the library. `code` is the library's code string
 * (`invalid_argument`, `invalid_handle`, `connection`, `transient`, `fatal`,
 * `too_large`, `shutdown`, `internal`); `retryable` is true for `transient` only.
 */
class MeshError extends Error {
  constructor(message, code, retryable = code === 'transient', status = null) {
    super(message);
    this.name = 'MeshError';
    this.code = code;
    this.retryable = retryable;
    this.status = status;
  }

  /** Builds the error for a failed call from its status and error object text. */
  static fromResponse(status, text) {
    let code = CODES[status] || `unknown(${status})`;
    let message = code;
    let retryable;
    if (text) {
      try {
        const err = JSON.parse(text).error;
        code = String(err.code);
        message = String(err.message);
        retryable = Boolean(err.retryable);
      } catch {
        message = text;
      }
    }
    return new MeshError(message, code, retryable === undefined ? code === 'transient' : retryable, status);
  }
}

/**
 * An event given as JSON text, stored byte for byte as given (key order, spacing,
 * number spelling: e.g. integers beyond 2^53). The text must be exactly one JSON
 * value; it is checked with JSON.parse when the RawEvent is made.
 */
class RawEvent {
  constructor(text) {
    if (text instanceof Uint8Array) { // a Buffer too
      text = new TextDecoder('utf-8', { fatal: true }).decode(text); // TypeError on invalid UTF-8
    } else if (typeof text !== 'string') {
      throw new TypeError(`RawEvent needs JSON text (string, Buffer or Uint8Array), got ${describe(text)}`);
    }
    text = text.trim();
    JSON.parse(text); // SyntaxError unless exactly one JSON value
    this.text = text;
  }
}

function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'object' ? (value.constructor && value.constructor.name) || 'object' : typeof value;
}

function intField(name, value) {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && Number.isInteger(value)) return JSON.stringify(value);
  throw new TypeError(`${name} must be an integer (number or bigint), got ${describe(value)}${typeof value === 'number' ? ` ${value}` : ''}`);
}

function strField(name, value) {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, got ${describe(value)}`);
  return JSON.stringify(value);
}

function boolField(name, value) {
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describe(value)}`);
  return value ? 'true' : 'false';
}

function checkOptions(name, opts, allowed) {
  if (opts === undefined || opts === null) return {};
  if (typeof opts !== 'object' || Array.isArray(opts)) {
    throw new TypeError(`${name} options must be an object, got ${describe(opts)}`);
  }
  for (const key of Object.keys(opts)) {
    if (!allowed.includes(key)) {
      throw new TypeError(`unknown ${name} option ${JSON.stringify(key)} (allowed: ${allowed.join(', ')})`);
    }
  }
  return opts;
}

/** `{"k":v,...}` from [jsonKey, encoder, value] triples, skipping undefined/null values. */
function request(fields, head = '') {
  let out = head;
  for (const [key, encode, value] of fields) {
    if (value === undefined || value === null) continue;
    out += `${out ? ',' : ''}"${key}":${encode(key, value)}`;
  }
  return `{${out}}`;
}

// encodeEventArray is the events as one JSON array. An array of plain values
// goes through one JSON.stringify; anything else (RawEvent, a typed array, a
// value JSON.stringify would turn into null, a toJSON method, another iterable,
// an error to report by index) goes event by event.
function encodeEventArray(events) {
  if (Array.isArray(events)) {
    let plain = true;
    for (const e of events) {
      const t = typeof e;
      if (t === 'undefined' || t === 'function' || t === 'symbol' || t === 'bigint' ||
          (t === 'object' && e !== null && (e instanceof RawEvent || ArrayBuffer.isView(e) ||
            e instanceof ArrayBuffer || typeof e.toJSON === 'function'))) {
        plain = false;
        break;
      }
    }
    if (plain) {
      try {
        return JSON.stringify(events);
      } catch {
        // a cycle or a BigInt inside: the slow path names the event
      }
    }
  }
  return `[${encodeEvents(events).join(',')}]`;
}

function encodeEvents(events) {
  if (typeof events === 'string' || events instanceof String || ArrayBuffer.isView(events) ||
      events instanceof ArrayBuffer || events === null || events === undefined ||
      typeof events[Symbol.iterator] !== 'function') {
    throw new TypeError(`events must be an array (or other iterable) of events, got ${describe(events)}; ` +
      'wrap one event in an array, and use RawEvent for pre-encoded JSON');
  }
  const parts = [];
  let i = 0;
  for (const event of events) {
    if (event instanceof RawEvent) {
      parts.push(event.text);
    } else if (ArrayBuffer.isView(event) || event instanceof ArrayBuffer) {
      throw new TypeError(`events[${i}] is a ${describe(event)}; use new RawEvent(...) for pre-encoded JSON`);
    } else {
      let text;
      try {
        text = JSON.stringify(event);
      } catch (err) {
        throw new TypeError(`events[${i}]: ${err.message}`);
      }
      if (text === undefined) throw new TypeError(`events[${i}] (${describe(event)}) is not JSON-serialisable`);
      parts.push(text);
    }
    i++;
  }
  return parts;
}

const READ_OPTIONS = ['limit', 'cursor', 'shard', 'waitMs', 'start', 'skipCorrupt', 'timeoutMs', 'group', 'member'];
const POLL_OPTIONS = [...READ_OPTIONS, 'autoCommit'];
// consume commits by itself with a group: no autoCommit.
const CONSUME_OPTIONS = [...READ_OPTIONS, 'stopAtEnd', 'signal'];
const PUBLISH_OPTIONS = ['shard', 'batchId', 'timeoutMs', 'acks'];
const COMMIT_OPTIONS = ['group', 'timeoutMs'];

// The group fields are sent as given: the library refuses a cursor or shard with
// group, and member or auto_commit without it (MeshError invalid_argument).
function pollRequest(opts) {
  const o = checkOptions('poll', opts, [...POLL_OPTIONS, 'stopAtEnd', 'signal']);
  return request([
    ['limit', intField, o.limit === undefined ? 100 : o.limit],
    ['cursor', strField, o.cursor],
    ['shard', intField, o.shard],
    ['wait_ms', intField, o.waitMs],
    ['start', strField, o.start],
    ['skip_corrupt', boolField, o.skipCorrupt],
    ['timeout_ms', intField, o.timeoutMs],
    ['group', strField, o.group],
    ['member', strField, o.member],
    ['auto_commit', boolField, o.autoCommit],
  ]);
}

/** Bus.open's check of its config: a plain object (TypeError otherwise). */
function checkConfig(config) {
  const proto = config !== null && typeof config === 'object' ? Object.getPrototypeOf(config) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw new TypeError(`config must be a plain object, got ${describe(config)}`);
  }
}

/**
 * The Bus of both bindings, but for its transport. A binding's Bus extends it
 * with `static open`, `stats()`, `close()` and `_call(op, text)`: `op` is
 * 'publish', 'poll' or 'commit', `text` the request JSON; it resolves with the
 * parsed response or rejects with MeshError.
 */
class BusBase {
  constructor(handle) {
    this._handle = handle;
    this._closed = false;
    this._closing = null;
  }

  /** The library handle (diagnostics only). */
  get handle() { return this._handle; }

  /** True once close() was called. */
  get closed() { return this._closed; }

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
    const resp = await this._call('publish', text);
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
    const resp = await this._call('poll', pollRequest(o));
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
    const resp = await this._call('commit', text);
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

  /** `await using bus = await Bus.open(...)` support where available. */
  async [Symbol.asyncDispose || Symbol.for('Symbol.asyncDispose')]() {
    await this.close();
  }
}

module.exports = {
  CODES, MeshError, RawEvent, describe, intField, strField, boolField, checkOptions, request,
  encodeEventArray, encodeEvents, READ_OPTIONS, POLL_OPTIONS, CONSUME_OPTIONS, PUBLISH_OPTIONS,
  COMMIT_OPTIONS, pollRequest, checkConfig, BusBase,
};
