/**
 * netmesh in WebAssembly (bindings/wasm): the same bus from a browser, Deno or
 * Node, over a nats-server WebSocket listener.
 *
 * - build/netmesh.wasm is netmesh's Go core built for GOOS=js: validation,
 *   routing, records, cursors, publish and poll are the code of libnetmesh.so.
 *   Requests, results and codes are those of the Node binding and the C ABI
 *   (docs/reference.md); the shapes below are the Node binding's.
 * - There is no embedded server: `url` is required and names WebSocket
 *   listeners only (`ws://host:port`, `wss://host:port`, comma-separated for a
 *   cluster). The host's WebSocket carries the connection; TLS is the host's
 *   (wss://), so `tls` is refused. A lost connection is dialled again as the
 *   native library does.
 * - Every method returns a Promise; the Go runtime runs them on goroutines, so
 *   the host's event loop is never blocked, even by a long poll.
 * - Event ids, timestamps and ack sequences are decimal strings (they exceed 2^53).
 */

import type { AuthConfig, BaseConfig, BaseStats, BusMethods } from './types.js';

// What the Node binding shares (errors, events, options, results, the Bus methods):
// `make wasm` copies bindings/node/types.d.ts here.
export * from './types.js';

/**
 * The configuration (docs/reference.md, "Config"), as the Node binding's but
 * without the embedded server: `url` is required, ws:// or wss:// only.
 */
export interface Config extends BaseConfig {
  /** WebSocket listeners of nats-server: `ws://host:port` or `wss://host[:port][/path]`, comma-separated. */
  url: string;
  /** user/password or token (sent in the NATS CONNECT, never in the WebSocket URL). */
  auth?: AuthConfig | null;
  create_streams?: 'lazy' | 'init';
}

/** Counters and health of one bus (docs/reference.md, "Stats"). */
export interface Stats extends BaseStats {
  /** Always false here. */
  embedded: boolean;
}

/** A WebSocket constructor: the host's global one, or e.g. the ws package's `WebSocket`. */
export type WebSocketConstructor = new (url: string) => unknown;

/** Where netmesh.wasm is: a URL or path (wasm_exec.js is loaded from next to it), its bytes, or a compiled module. */
export type WasmSource = string | URL | ArrayBuffer | Uint8Array | WebAssembly.Module;

/** The second argument of `Bus.open`. */
export interface OpenOptions {
  /** Default: globalThis.WebSocket (browsers, Deno, Node 22+). */
  WebSocket?: WebSocketConstructor;
  /**
   * Default: $NETMESH_WASM in Node, else build/netmesh.wasm of the checkout
   * (relative to this module). Only the first open of a realm loads it: one Go
   * runtime serves every bus.
   */
  wasm?: WasmSource;
}

/** An open bus: the methods of `BusMethods` (types.d.ts), and those below. */
export interface Bus extends BusMethods {}
export class Bus {
  private constructor();
  /**
   * Opens a bus on the WebSocket listener(s) of `config.url`. Rejects with
   * MeshError (`invalid_argument` for a bad config, no url or a non-WebSocket
   * url; `connection` when no server answers), TypeError for a config that is
   * not a plain object or no WebSocket constructor.
   */
  static open(config: Config, options?: OpenOptions): Promise<Bus>;
  /** The handle inside the wasm, for diagnostics. */
  readonly handle: number;
  /** Counters and health of this bus. */
  stats(): Promise<Stats>;
}

/** The version of netmesh.wasm (core.Version), loading it if needed. */
export function wasmVersion(wasm?: WasmSource): Promise<string>;
