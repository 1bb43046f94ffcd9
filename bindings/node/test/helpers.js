'use strict';
// Shared helpers of the netmesh Node tests (node:test, no other dependency).
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const netmesh = require('..');

/** A fresh temporary store directory, removed after the test. */
function storeDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netmesh-nodetest-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A config on a fresh memory store; `embedded` fields merge in. */
function config(t, extra = {}, embedded = {}) {
  return { embedded: { store_dir: storeDir(t), memory: true, ...embedded }, ...extra };
}

/** Opens a bus that is closed after the test. */
async function openBus(t, extra = {}, embedded = {}) {
  const bus = await netmesh.Bus.open(config(t, extra, embedded));
  t.after(() => bus.close().catch(() => {}));
  return bus;
}

/** The number of failed calls the library counted on this bus. */
async function libraryErrors(bus) {
  const { errors } = await bus.stats();
  return Object.values(errors).reduce((a, b) => a + b, 0);
}

/**
 * Publishes one message with the NATS text protocol to a listening embedded server
 * and resolves with JetStream's ack: a way to store a record netmesh never writes.
 */
function natsPublish(url, subject, payload) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), hostname);
    let buf = Buffer.alloc(0);
    let sent = false;
    sock.setTimeout(5000, () => { sock.destroy(); reject(new Error('timeout')); });
    sock.on('error', reject);
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const eol = buf.indexOf('\r\n');
        if (eol < 0) return;
        const line = buf.subarray(0, eol).toString();
        if (line.startsWith('INFO ') && !sent) {
          sent = true;
          const body = Buffer.from(payload);
          sock.write('CONNECT {"verbose":false,"pedantic":false}\r\nSUB _ack.nodetest 1\r\n' +
            `PUB ${subject} _ack.nodetest ${body.length}\r\n`);
          sock.write(Buffer.concat([body, Buffer.from('\r\nPING\r\n')]));
        } else if (line.startsWith('PING')) {
          sock.write('PONG\r\n');
        } else if (line.startsWith('-ERR')) {
          sock.destroy();
          reject(new Error(line));
          return;
        } else if (line.startsWith('MSG ')) {
          const size = Number(line.split(' ').pop());
          if (buf.length < eol + 2 + size + 2) return; // wait for the body
          const ack = JSON.parse(buf.subarray(eol + 2, eol + 2 + size).toString());
          sock.destroy();
          if (ack.error) reject(new Error(JSON.stringify(ack)));
          else resolve(ack);
          return;
        }
        buf = buf.subarray(eol + 2);
      }
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = { netmesh, storeDir, config, openBus, libraryErrors, natsPublish, sleep };
