'use strict';
// nats.js (npm "nats") publishing the events file as a user of that client
// would, for bench/peers: one stream, js.publish of every event with a window
// of 1000 publishes in flight (Promise.all), each event encoded with
// JSON.stringify inside the timing (as the Node binding does). Creating the
// stream is not timed.
//
//   node natsjs_pub.js URL STREAM EVENTS_FILE
//
// Prints {"count":N,"seconds":S}.
const fs = require('node:fs');
const { connect, StorageType } = require('nats');

const WINDOW = 1000;

async function main() {
  const [url, stream, file] = process.argv.slice(2);
  const events = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
  const nc = await connect({ servers: url.replace(/^nats:\/\//, '') });
  const subject = `${stream}.x`;
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: stream, subjects: [subject], storage: StorageType.File, allow_direct: true });
  const js = nc.jetstream();
  const start = performance.now();
  for (let i = 0; i < events.length; i += WINDOW) {
    const window = events.slice(i, i + WINDOW);
    await Promise.all(window.map((e) => js.publish(subject, JSON.stringify(e))));
  }
  const seconds = (performance.now() - start) / 1000;
  const info = await jsm.streams.info(stream);
  if (info.state.messages !== events.length) throw new Error(`stream holds ${info.state.messages}, want ${events.length}`);
  await nc.drain();
  console.log(JSON.stringify({ count: events.length, seconds }));
}

main().catch((err) => { console.error(err); process.exit(1); });
