'use strict';
/**
 * What the Node and the wasm bindings share: the codes, MeshError, RawEvent and
 * the building of requests. The bindings only check JavaScript types here
 * (TypeError); the library checks values (MeshError 'invalid_argument').
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

module.exports = {
  CODES, MeshError, RawEvent, describe, intField, strField, boolField, checkOptions, request,
  encodeEventArray, encodeEvents, READ_OPTIONS, POLL_OPTIONS, CONSUME_OPTIONS, PUBLISH_OPTIONS,
  COMMIT_OPTIONS, pollRequest,
};
