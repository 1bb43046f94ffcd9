'use strict';
/*
 * A consumer group member in Node, for core/groupproc_test.go (make group-test).
 * group_member.c and member.py do exactly the same in C and Python; the log
 * format and the signals are described in tests/group/README.md.
 *
 *   node tests/group/member.js URL GROUP MEMBER LOG_FILE [STOP_FILE]
 *
 * URL may also come from NETMESH_URL when the argument is "-". Environment (all
 * optional): MEMBER_SHARDS (16), MEMBER_REPLICAS (1), MEMBER_SESSION_MS (2000),
 * MEMBER_LIMIT (200), MEMBER_WAIT_MS (500).
 */
const fs = require('fs');
const path = require('path');
const { Bus, MeshError } = require(path.join(__dirname, '..', '..', 'bindings', 'node'));

// Unix time in nanoseconds: the wall clock when the process started plus the
// monotonic time since (Date.now() has only milliseconds).
const clockBase = BigInt(Date.now()) * 1000000n - process.hrtime.bigint();
function unixNanos() {
  return clockBase + process.hrtime.bigint();
}

const ints = (list) => (list && list.length ? list.join(',') : '-');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const envInt = (name, def) => (process.env[name] ? Number.parseInt(process.env[name], 10) : def);

async function main() {
  const args = process.argv.slice(2);
  if (args.length < 4 || args.length > 5) {
    process.stderr.write('usage: node member.js URL GROUP MEMBER LOG_FILE [STOP_FILE]\n');
    return 2;
  }
  const url = args[0] === '-' ? process.env.NETMESH_URL : args[0];
  const [, group, member, logPath, stopFile] = args;
  if (!url) {
    process.stderr.write('member.js: no URL (argument or NETMESH_URL)\n');
    return 2;
  }
  const limit = envInt('MEMBER_LIMIT', 200);
  const waitMs = envInt('MEMBER_WAIT_MS', 500);
  const pauseFile = `${logPath}.pause`;

  let stopRequested = false;
  process.on('SIGTERM', () => { stopRequested = true; });
  process.on('SIGINT', () => { stopRequested = true; });

  const fd = fs.openSync(logPath, 'a');
  const write = (text) => fs.writeSync(fd, text);
  const meta = (what, rest) => write(`# ${what} ${member} ${unixNanos()}${rest === undefined ? '' : ` ${rest}`}\n`);

  const bus = await Bus.open({
    url,
    shards: envInt('MEMBER_SHARDS', 16),
    replicas: envInt('MEMBER_REPLICAS', 1),
    groups: { session_ms: envInt('MEMBER_SESSION_MS', 2000) },
    log_level: 'warn',
  });
  meta('start');
  let assigned = null;
  let status = 0;
  try {
    while (!stopRequested && !(stopFile && fs.existsSync(stopFile))) {
      let batch;
      try {
        batch = await bus.poll({ limit, group, member, waitMs });
      } catch (err) {
        if (!(err instanceof MeshError) || !err.retryable) throw err;
        process.stderr.write(`member.js ${member}: poll: ${err.message}\n`); // a leader change, a timeout
        await sleep(100);
        continue;
      }
      const returned = unixNanos();
      let text = '';
      if (ints(batch.assigned) !== assigned) {
        assigned = ints(batch.assigned);
        text += `# assigned ${member} ${returned} ${assigned}\n`;
      }
      for (const e of batch.events) text += `${member} ${e.shard} ${e.id} ${unixNanos()}\n`;
      if (text) write(text);

      if (batch.events.length > 0 && fs.existsSync(pauseFile)) {
        fs.unlinkSync(pauseFile);
        meta('pause');
        process.kill(process.pid, 'SIGSTOP');
      }

      let result = null;
      for (let attempt = 0; attempt < 6 && result === null; attempt++) {
        try {
          result = await bus.commit(batch.nextCursor, { group });
        } catch (err) {
          if (!(err instanceof MeshError) || !err.retryable) throw err;
          process.stderr.write(`member.js ${member}: commit: ${err.message}\n`);
          await sleep(100);
        }
      }
      if (result === null) continue; // the next batch's commit covers this one
      meta('commit', `${ints(result.committed)} ${ints(result.revoked)}`);
      if (result.revoked.length > 0) assigned = null; // those shards are gone: log the next assignment
    }
  } catch (err) {
    process.stderr.write(`member.js ${member}: ${err.stack || err}\n`);
    status = 1;
  }
  meta('stop');
  try {
    await bus.close();
  } catch (err) {
    process.stderr.write(`member.js ${member}: close: ${err.message}\n`);
    status = 1;
  }
  meta('exit');
  fs.closeSync(fd);
  return status;
}

main().then((status) => { process.exitCode = status; }, (err) => {
  process.stderr.write(`member.js: ${err.stack || err}\n`);
  process.exitCode = 1;
});
