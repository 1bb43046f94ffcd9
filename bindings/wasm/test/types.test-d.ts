// Type tests for index.d.ts (make wasm-vet runs tsc over them): each line
// marked ts-expect-error must fail to type-check.
import { Bus, MeshError, RawEvent, wasmVersion } from '../index.js';

declare const WS: new (url: string) => unknown;

async function main(): Promise<void> {
  const bus = await Bus.open({ url: 'ws://127.0.0.1:8080', shards: 4 }, { WebSocket: WS });
  const r = await bus.publish([{ a: 1 }, new RawEvent('{"b":2}')], { batchId: 'x', acks: true });
  const n: number = r.published;
  const page = await bus.poll<{ a: number }>({ limit: 10, cursor: 'x', waitMs: 100n });
  const id: string = page.events[0].id;
  const g = await bus.poll({ group: 'g' });
  const assigned: number[] = g.assigned;
  for await (const e of bus.consume({ stopAtEnd: true })) void e.ts;
  const s = await bus.stats();
  const healthy: boolean = s.healthy;
  const v: string = await wasmVersion();
  void [n, id, assigned, healthy, v, MeshError];
  // @ts-expect-error url is required: there is no embedded server
  await Bus.open({ shards: 4 });
  // @ts-expect-error no embedded server in the wasm build
  await Bus.open({ url: 'ws://h:1', embedded: { memory: true } });
  // @ts-expect-error misspelt option
  await bus.poll({ limt: 5 });
  // @ts-expect-error a group poll takes no cursor
  await bus.poll({ group: 'g', cursor: 'x' });
  // @ts-expect-error misspelt open option
  await Bus.open({ url: 'ws://h:1' }, { Websocket: WS });
  await bus.close();
}
void main;
