// Type tests of index.d.ts, checked by `tsc --noEmit -p bindings/node` (make
// node-lint); never run. Each `@ts-expect-error` line must be a type error: tsc
// fails if it is not, so misspelt options stay refused.
import { Bus, LibraryVersionError, MeshError, RawEvent, libraryVersion } from 'netmesh';
import type {
  CommitResult, Config, ConsumeOptions, GroupPollResult, GroupStats, PollOptions, PollResult, PublishOptions, Stats,
} from 'netmesh';

export async function typeTests(): Promise<void> {
  // Config: every field of docs/reference.md, "Config".
  const full: Config = {
    url: 'nats://a:4222,nats://b:4222',
    prefix: 'orders',
    shards: 4,
    replicas: 3,
    dedup_window_ms: 60000,
    max_messages: null,
    max_bytes: 1 << 30,
    max_age_ms: null,
    connect_timeout_ms: 1000,
    request_timeout_ms: 2000,
    max_request_bytes: 1 << 20,
    auth: { user: 'u', password: 'p', token: 't', creds_file: 'f', nkey_seed_file: 'k' },
    tls: { ca_file: 'ca', cert_file: 'cert', key_file: 'key' },
    log_level: 'debug',
    groups: { session_ms: 10000 },
  };
  const bus = await Bus.open({ embedded: { store_dir: 'data', listen: '127.0.0.1:0', memory: true } });
  await Bus.open(full);
  await Bus.open();
  // null is "absent" where the reference says so.
  await Bus.open({ url: null, embedded: null, auth: { token: 't', user: null }, tls: null });
  // @ts-expect-error: null is a type error for shards (absent only where allowed)
  await Bus.open({ shards: null });

  // Misspelt or unknown config fields, at the top level and nested.
  // @ts-expect-error: "shard" is not a config field ("shards" is)
  await Bus.open({ shard: 4 });
  // @ts-expect-error: "storeDir" is not an embedded field ("store_dir" is)
  await Bus.open({ embedded: { storeDir: 'data' } });
  // @ts-expect-error: "passwd" is not an auth field
  await Bus.open({ url: 'nats://h:4222', auth: { user: 'u', passwd: 'p' } });
  // @ts-expect-error: "ca" is not a tls field
  await Bus.open({ url: 'nats://h:4222', tls: { ca: 'x' } });
  // @ts-expect-error: the log level is one of five words
  await Bus.open({ log_level: 'verbose' });
  // @ts-expect-error: the config is an object, not JSON text
  await Bus.open('{"shards":4}');
  // @ts-expect-error: "sessionMs" is not a groups field ("session_ms" is)
  await Bus.open({ groups: { sessionMs: 1000 } });
  // @ts-expect-error: "group" is not a config field ("groups" is)
  await Bus.open({ group: { session_ms: 1000 } });
  // A Config variable cannot carry an extra field either.
  // @ts-expect-error: "dedup_window" is not a config field ("dedup_window_ms" is)
  const misspelt: Config = { dedup_window: 1000 };
  void misspelt;

  // publish options.
  const published = await bus.publish([{ a: 1 }, new RawEvent('{"b":2}')],
    { shard: 1n, batchId: 'b-1', timeoutMs: 500, acks: true });
  const seq: string | undefined = published.acks?.[0]?.seq;
  void seq;
  // @ts-expect-error: "batch_id" is the JSON name; the option is "batchId"
  await bus.publish([1], { batch_id: 'b-1' });
  // @ts-expect-error: "ack" is not an option ("acks" is)
  await bus.publish([1], { ack: true });
  const publishOptions: PublishOptions = { timeoutMs: 10 };
  void publishOptions;

  // poll options and the result.
  const batch: PollResult<{ n: number }> = await bus.poll<{ n: number }>(
    { limit: 10, cursor: undefined, shard: null, waitMs: 100, start: 'latest', skipCorrupt: true, timeoutMs: 1000 });
  const n: number | undefined = batch.events[0]?.data.n;
  const id: string | undefined = batch.events[0]?.id;
  void n; void id;
  // @ts-expect-error: "wait" is not an option ("waitMs" is)
  await bus.poll({ wait: 1000 });
  // @ts-expect-error: "wait_ms" is the JSON name; the option is "waitMs"
  await bus.poll({ wait_ms: 1000 });
  // @ts-expect-error: start is "earliest" or "latest"
  await bus.poll({ start: 'middle' });
  // @ts-expect-error: stopAtEnd is an option of consume, not of poll
  await bus.poll({ stopAtEnd: true });
  const pollOptions: PollOptions = { limit: 5 };
  void pollOptions;
  const plainAssigned: number[] | undefined = batch.assigned;
  void plainAssigned;

  // consumer group polls: assigned is always there; nextCursor goes to commit().
  const groupBatch: GroupPollResult<{ n: number }> = await bus.poll<{ n: number }>(
    { group: 'billing', member: 'worker-1', autoCommit: true, limit: 10, waitMs: 100, start: 'latest', skipCorrupt: true, timeoutMs: 1000 });
  const assigned: number[] = groupBatch.assigned;
  void assigned;
  const groupPollOptions: PollOptions = { group: 'billing', member: null, cursor: null, shard: undefined };
  void (await bus.poll(groupPollOptions)).assigned;
  // @ts-expect-error: "auto_commit" is the JSON name; the option is "autoCommit"
  await bus.poll({ group: 'billing', auto_commit: true });
  // @ts-expect-error: "autocommit" is not an option ("autoCommit" is)
  await bus.poll({ group: 'billing', autocommit: true });
  // @ts-expect-error: "groupName" is not an option ("group" is)
  await bus.poll({ groupName: 'billing' });
  // @ts-expect-error: "memberId" is not an option ("member" is)
  await bus.poll({ group: 'billing', memberId: 'worker-1' });
  // @ts-expect-error: a group poll takes no cursor (the group's position replaces it)
  await bus.poll({ group: 'billing', cursor: batch.nextCursor });
  // @ts-expect-error: a group poll takes no shard (the group assigns shards)
  await bus.poll({ group: 'billing', shard: 1 });
  // @ts-expect-error: member goes with group
  await bus.poll({ member: 'worker-1' });
  // @ts-expect-error: autoCommit goes with group
  await bus.poll({ autoCommit: true });
  // @ts-expect-error: the group is a name, not a number
  await bus.poll({ group: 7 });

  // commit.
  const committed: CommitResult = await bus.commit(groupBatch.nextCursor, { group: 'billing', timeoutMs: 1000 });
  const shards: number[] = [...committed.committed, ...committed.revoked];
  void shards;
  await bus.commit(groupBatch.nextCursor, { group: 'billing', timeoutMs: null });
  // @ts-expect-error: commit needs the group
  await bus.commit(groupBatch.nextCursor);
  // @ts-expect-error: the group goes in the options object
  await bus.commit(groupBatch.nextCursor, 'billing');
  // @ts-expect-error: "groupName" is not an option ("group" is)
  await bus.commit(groupBatch.nextCursor, { groupName: 'billing' });
  // @ts-expect-error: "timeout_ms" is the JSON name; the option is "timeoutMs"
  await bus.commit(groupBatch.nextCursor, { group: 'billing', timeout_ms: 5 });
  // @ts-expect-error: the cursor is the nextCursor string, not the result
  await bus.commit(groupBatch, { group: 'billing' });
  // @ts-expect-error: no such result field ("committed" is)
  void committed.commited;

  // consume options.
  const controller = new AbortController();
  const consumeOptions: ConsumeOptions = { waitMs: 10, stopAtEnd: true, signal: controller.signal };
  for await (const event of bus.consume(consumeOptions)) void event.data;
  for await (const b of bus.consumeBatches({ stopAtEnd: true })) void b.nextCursor;
  // @ts-expect-error: "stopAtEOF" is not an option ("stopAtEnd" is)
  bus.consume({ stopAtEOF: true });
  for await (const event of bus.consume<{ n: number }>({ group: 'billing', member: 'worker-1', stopAtEnd: true })) void event.data.n;
  for await (const b of bus.consumeBatches({ group: 'billing', signal: controller.signal })) {
    const held: number[] = b.assigned;
    void held;
  }
  const groupConsume: ConsumeOptions = { group: 'billing', waitMs: 10 };
  void groupConsume;
  // @ts-expect-error: consume commits by itself: no autoCommit
  bus.consume({ group: 'billing', autoCommit: true });
  // @ts-expect-error: a group consume takes no cursor
  bus.consume({ group: 'billing', cursor: 'c' });
  // @ts-expect-error: "grup" is not an option ("group" is)
  bus.consumeBatches({ grup: 'billing' });
  // @ts-expect-error: "memberID" is not an option ("member" is)
  bus.consume({ group: 'billing', memberID: 'worker-1' });

  // stats.
  const stats: Stats = await bus.stats();
  const invalid: number = stats.errors.invalid_argument;
  void invalid;
  // @ts-expect-error: invalid_handle is never counted (no bus is found to count it)
  void stats.errors.invalid_handle;
  // @ts-expect-error: no such stats field
  void stats.publised;
  const groups: GroupStats[] | undefined = stats.groups;
  const groupShard = groups?.[0]?.shards[0];
  const position: string | undefined = groupShard?.committed;
  const lag: number | undefined = groupShard?.lag;
  const member: string | undefined = groups?.[0]?.member;
  void position; void lag; void member;
  // @ts-expect-error: committed positions are decimal strings
  const positionNumber: number | undefined = groupShard?.committed;
  void positionNumber;
  // @ts-expect-error: no such group stats field ("assigned" is)
  void groups?.[0]?.assignment;

  // errors.
  try {
    await bus.close();
  } catch (err) {
    if (err instanceof MeshError) {
      const retry: boolean = err.retryable;
      const status: number | null = err.status;
      void retry; void status;
    } else if (err instanceof LibraryVersionError) {
      const found: number = err.found;
      const expected: number = err.expected;
      void found; void expected;
    }
  }
  const { version, abi } = await libraryVersion();
  void version; void abi;
}
