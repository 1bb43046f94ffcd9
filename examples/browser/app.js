// Opens the bus over WebSocket with the wasm build and follows it from the
// first event: a table of events (newest first, the last 200) and a count per
// shard. /config.json (examples/browser/serve.mjs) names the listener.
import { Bus } from '../../bindings/wasm/index.js';

const MAX_ROWS = 200;
const status = document.getElementById('status');
const total = document.getElementById('total');
const rows = document.querySelector('#events tbody');
const shardRows = document.querySelector('#shards tbody');

function setStatus(state, text) {
  status.dataset.state = state;
  status.textContent = text;
}

function cell(tr, text, cls) {
  const td = tr.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
}

async function main() {
  const config = await (await fetch('/config.json')).json();
  const bus = await Bus.open({ url: config.url, shards: config.shards });
  const counts = Array.from({ length: config.shards }, (_, k) => {
    const tr = shardRows.insertRow();
    cell(tr, String(k));
    cell(tr, '0', 'count');
    tr.dataset.shard = String(k);
    return tr.cells[1];
  });
  let seen = 0;
  setStatus('live', `live on ${config.url}`);
  for await (const batch of bus.consumeBatches({ limit: 500, waitMs: 1000 })) {
    // A batch is grouped by shard: order it by time so the newest ends on top.
    const events = [...batch.events].sort((a, b) => (BigInt(a.ts) < BigInt(b.ts) ? -1 : 1));
    for (const e of events) {
      const tr = rows.insertRow(0);
      tr.dataset.shard = String(e.shard);
      tr.dataset.id = e.id;
      cell(tr, new Date(Number(BigInt(e.ts) / 1000000n)).toISOString().slice(11, 23));
      cell(tr, String(e.shard));
      cell(tr, e.id);
      cell(tr, JSON.stringify(e.data), 'data');
      counts[e.shard].textContent = String(Number(counts[e.shard].textContent) + 1);
    }
    while (rows.rows.length > MAX_ROWS) rows.deleteRow(-1);
    seen += events.length;
    total.textContent = String(seen);
  }
}

main().catch((err) => setStatus('error', `${err.name}: ${err.message}${err.code ? ` (${err.code})` : ''}`));
