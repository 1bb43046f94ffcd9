// Serves the browser example next to an embedded server: the C library (through
// the Node binding) runs the server with a WebSocket listener for the page and a
// NATS listener for publishers in other processes; a small HTTP server serves
// the page, bindings/wasm and build/netmesh.wasm.
//
//   node examples/browser/serve.mjs [--port 8080] [--store DIR | --memory]
//
// It prints one JSON line {"page","ws","nats"}, then serves until SIGINT/SIGTERM.
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { Bus } = createRequire(import.meta.url)(join(root, 'bindings/node/index.js'));
const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '8080' },
    store: { type: 'string', default: join(root, 'build/demo-browser-data') },
    memory: { type: 'boolean', default: false },
    shards: { type: 'string', default: '4' },
  },
});

const shards = Number(args.shards);
const bus = await Bus.open({
  embedded: { store_dir: args.store, memory: args.memory, listen: '127.0.0.1:0', websocket: { listen: '127.0.0.1:0' } },
  shards,
});
const { server } = await bus.stats();

// Only these files are served: the page and what it loads.
const files = {
  '/examples/browser/index.html': 'text/html; charset=utf-8',
  '/examples/browser/app.js': 'text/javascript; charset=utf-8',
  '/bindings/wasm/index.js': 'text/javascript; charset=utf-8',
  '/bindings/wasm/requests.js': 'text/javascript; charset=utf-8',
  '/build/wasm_exec.js': 'text/javascript; charset=utf-8',
  '/build/netmesh.wasm': 'application/wasm',
};
const http = createServer(async (req, res) => {
  let path = new URL(req.url, 'http://x').pathname;
  if (path === '/') {
    res.writeHead(302, { location: '/examples/browser/' }).end();
    return;
  }
  if (path === '/examples/browser/') path = '/examples/browser/index.html';
  if (path === '/config.json') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ url: server.websocket_url, shards }));
    return;
  }
  const type = files[path];
  if (!type) {
    res.writeHead(404).end('not found');
    return;
  }
  try {
    const body = await readFile(join(root, path));
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
  } catch (err) {
    res.writeHead(500).end(String(err.message));
  }
});
http.listen(Number(args.port), '127.0.0.1', () => {
  const page = `http://127.0.0.1:${http.address().port}/`;
  console.log(JSON.stringify({ page, ws: server.websocket_url, nats: server.url }));
  console.error(`open ${page}; publish from another process to ${server.url} (shards ${shards}), e.g.\n` +
    `  echo '{"hello":"browser"}' | build/netmesh --url ${server.url} --shards ${shards} pub`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    http.close();
    await bus.close();
    process.exit(0);
  });
}
