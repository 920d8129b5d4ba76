import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import {
  localPostgresControl,
  removeLocalPostgres,
  startLocalPostgres,
} from '../../scripts/services/postgres.ts';
import { quoteIdent } from '../../src/db/sql.ts';
import { consumeAll, decodeAll, type ConsumedRecord } from '../support/consume.ts';
import {
  dropOutbox,
  planEvents,
  prepareOutbox,
  services,
  uniqueNames,
  writeTransactions,
  insertEvents,
  type OutboxNames,
  type TestEvent,
} from '../support/fixtures.ts';
import { relayEnv, runCli, startRelayInProcess } from '../support/relay.ts';
import type { CliResult } from '../support/relay.ts';

interface Outbox {
  names: OutboxNames;
  env: Record<string, string>;
  brokers: string[];
  pool: pg.Pool;
  events: TestEvent[];
  cleanup(): Promise<void>;
}

/** A fresh outbox holding `total` events, each in its own transaction (so its own created_at). */
async function outboxWith(label: string, total: number, aggregates = 3): Promise<Outbox> {
  const { pgUrl, kafkaBrokers } = await services();
  const names = uniqueNames(label);
  await prepareOutbox(pgUrl, names);
  const pool = new pg.Pool({ connectionString: pgUrl, max: 2 });
  const transactions = planEvents({ total, aggregates, sizes: [1] });
  await writeTransactions(pool, names, transactions);
  return {
    names,
    env: relayEnv(pgUrl, kafkaBrokers, names),
    brokers: kafkaBrokers,
    pool,
    events: transactions.flat(),
    cleanup: async () => {
      await pool.end();
      await dropOutbox(pgUrl, names);
    },
  };
}

function replay(args: string[], env: Record<string, string>): Promise<CliResult> {
  return runCli(['replay', ...args], env);
}

async function replayJson(args: string[], env: Record<string, string>) {
  const result = await replay([...args, '--json'], env);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as {
    selected: number;
    sent: number;
    skipped: number;
    topics: Record<string, number>;
    dryRun: boolean;
    order: string;
  };
}

function topicsOf(outbox: Outbox, events: readonly TestEvent[]): string[] {
  return [...new Set(events.map((e) => outbox.names.topic(e.aggregateType)))];
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

const isReplay = (r: ConsumedRecord) => r.headers.replay === 'true';

/** Checks what every replayed record must be, and that each aggregate's events are in order. */
function assertReplayed(records: readonly ConsumedRecord[], expected: readonly TestEvent[]) {
  const decoded = decodeAll(records);
  assert.deepEqual(decoded.map((r) => r.event.event_id).sort(), expected.map((e) => e.id).sort());
  const byId = new Map(expected.map((e) => [e.id, e]));
  const lastSeq = new Map<string, number>();
  for (const record of decoded) {
    const planned = byId.get(record.event.event_id);
    assert.ok(planned);
    assert.equal(record.headers.replay, 'true');
    assert.match(record.headers.replayed_at ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(record.headers.event_id, planned.id);
    assert.equal(record.headers.event_type, planned.eventType);
    assert.equal(record.key, planned.aggregateId);
    assert.deepEqual(JSON.parse(record.event.payload), planned.payload);
    assert.ok(
      planned.seq > (lastSeq.get(planned.aggregateId) ?? -1),
      `${planned.aggregateId}: event ${planned.seq} after ${lastSeq.get(planned.aggregateId)}`,
    );
    lastSeq.set(planned.aggregateId, planned.seq);
  }
}

async function topicsNamed(brokers: string[], prefix: string): Promise<string[]> {
  const admin = new Kafka({ clientId: 'test-admin', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  } finally {
    await admin.disconnect();
  }
}

test('replays one aggregate beside a live relay: the same records again, marked as replays, in order', async () => {
  const outbox = await outboxWith('replay_agg', 40);
  const relay = startRelayInProcess(outbox.env);
  try {
    const selected = outbox.events.filter((e) => e.aggregateId === 'agg-1');
    assert.ok(selected.length >= 5);
    const summary = await replayJson(['--aggregate-id', 'agg-1'], outbox.env);
    assert.deepEqual(summary, {
      selected: selected.length,
      sent: selected.length,
      skipped: 0,
      topics: { [outbox.names.topic(selected[0]!.aggregateType)]: selected.length },
      dryRun: false,
      order: 'commit',
    });
    const records = await consumeAll({
      brokers: outbox.brokers,
      topics: topicsOf(outbox, outbox.events),
      atLeast: outbox.events.length + selected.length,
    });
    const replays = records.filter(isReplay);
    assertReplayed(replays, selected);
    const originals = new Map(
      records.filter((r) => !isReplay(r)).map((r) => [r.headers.event_id, r]),
    );
    assert.equal(records.length - replays.length, outbox.events.length, 'the relay sent each once');
    assert.equal(originals.size, outbox.events.length);
    for (const copy of replays) {
      const original = originals.get(copy.headers.event_id);
      assert.ok(original, `the relay also sent ${copy.headers.event_id}`);
      assert.equal(copy.topic, original.topic);
      assert.equal(copy.partition, original.partition);
      assert.ok(copy.value.equals(original.value), 'the same Avro value, byte for byte');
      const headers = { ...copy.headers };
      delete headers.replay;
      delete headers.replayed_at;
      assert.deepEqual(headers, original.headers);
    }
  } finally {
    await relay.stop();
    await outbox.cleanup();
  }
});

test('replays a created-at range, its start included and its end excluded, to the original topics', async () => {
  const outbox = await outboxWith('replay_range', 30);
  try {
    const table = `${quoteIdent(outbox.names.schema)}.${quoteIdent(outbox.names.table)}`;
    const { rows } = await outbox.pool.query<{ id: string; at: string }>(
      `SELECT id::text AS id, to_json(created_at) #>> '{}' AS at FROM ${table} ORDER BY created_at, id`,
    );
    const from = rows[10]!.at;
    const to = rows[20]!.at;
    const ids = new Set(rows.slice(10, 20).map((r) => r.id));
    const selected = outbox.events.filter((e) => ids.has(e.id));
    const summary = await replayJson(['--from', from, '--to', to], outbox.env);
    assert.equal(summary.sent, 10);
    const records = await consumeAll({
      brokers: outbox.brokers,
      topics: topicsOf(outbox, selected),
      atLeast: selected.length,
    });
    assert.deepEqual(
      countBy(records, (r) => r.topic),
      countBy(selected, (e) => outbox.names.topic(e.aggregateType)),
    );
    assertReplayed(records, selected);
  } finally {
    await outbox.cleanup();
  }
});

test('sends every selected event to the --topic override and none to its own topic', async () => {
  const outbox = await outboxWith('replay_topic', 20);
  try {
    const override = `t.${outbox.names.id}.override`;
    const selected = outbox.events.filter((e) => e.aggregateType === 'order');
    const summary = await replayJson(
      ['--aggregate-type', 'order', '--topic', override],
      outbox.env,
    );
    assert.deepEqual(summary.topics, { [override]: selected.length });
    const records = await consumeAll({
      brokers: outbox.brokers,
      topics: [override],
      atLeast: selected.length,
    });
    assertReplayed(records, selected);
    assert.deepEqual(await topicsNamed(outbox.brokers, `t.${outbox.names.id}.`), [override]);
  } finally {
    await outbox.cleanup();
  }
});

test('a dry run sends nothing and says what it would send, even without Kafka settings', async () => {
  const outbox = await outboxWith('replay_dry', 12);
  try {
    const selected = outbox.events.filter((e) => e.eventType === 'customer.changed');
    const topic = outbox.names.topic('customer');
    const withoutKafka = { ...outbox.env };
    delete withoutKafka.RELAY_KAFKA_BROKERS;
    const summary = await replayJson(
      ['--event-type', 'customer.changed', '--dry-run'],
      withoutKafka,
    );
    assert.deepEqual(summary, {
      selected: selected.length,
      sent: 0,
      skipped: 0,
      topics: { [topic]: selected.length },
      dryRun: true,
      order: 'commit',
    });
    const text = await replay(['--event-type', 'customer.changed', '--dry-run'], withoutKafka);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.trimEnd().split('\n');
    assert.deepEqual(
      lines.filter((line) => line.includes('\t')).sort(),
      selected.map((e) => [e.id, topic, e.aggregateId, e.eventType].join('\t')).sort(),
    );
    assert.ok(lines.includes(`dry run: ${selected.length} events would be sent; nothing was sent`));
    assert.deepEqual(await topicsNamed(outbox.brokers, `t.${outbox.names.id}.`), []);
  } finally {
    await outbox.cleanup();
  }
});

test('refuses to run without a selector, with exit code 2 and a message naming the options', async () => {
  const { pgUrl, kafkaBrokers } = await services();
  const result = await replay([], relayEnv(pgUrl, kafkaBrokers, uniqueNames('replay_none')));
  assert.equal(result.code, 2);
  for (const option of ['--from', '--to', '--ids', '--aggregate-type', '--aggregate-id', '--all'])
    assert.match(result.stderr, new RegExp(`${option}\\b`));
});

test('an unknown option, a bad --rate, --order or --topic, or a time PostgreSQL cannot read exits with 2', async () => {
  const outbox = await outboxWith('replay_usage', 1);
  try {
    for (const [args, message] of [
      [['--all', '--bogus'], /unknown option '--bogus'/],
      [['--all', '--rate', 'fast'], /--rate must be a positive number/],
      [['--all', '--order', 'start'], /'--order <order>' argument 'start' is invalid/],
      [['--all', '--topic', 'no spaces'], /--topic "no spaces" is not a legal Kafka topic name/],
      [['--from', 'the day before'], /selector's value is not valid: .*the day before/],
    ] as const) {
      const result = await replay([...args], outbox.env);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
  } finally {
    await outbox.cleanup();
  }
});

test('--rate 200 spreads 200 events over about a second', async () => {
  const outbox = await outboxWith('replay_rate', 200);
  try {
    const started = Date.now();
    const summary = await replayJson(['--all', '--rate', '200'], outbox.env);
    assert.equal(summary.sent, 200);
    assert.ok(Date.now() - started >= 800);
    const records = await consumeAll({
      brokers: outbox.brokers,
      topics: topicsOf(outbox, outbox.events),
      atLeast: 200,
    });
    assertReplayed(records, outbox.events);
    const sentAt = records.map((r) => Date.parse(r.headers.replayed_at ?? ''));
    const spread = Math.max(...sentAt) - Math.min(...sentAt);
    assert.ok(spread >= 800, `sent over ${spread} ms`);
  } finally {
    await outbox.cleanup();
  }
});

/** One event of `aggregateId`, as insertEvents writes it. */
function eventOf(aggregateId: string, seq: number): TestEvent {
  return {
    id: randomUUID(),
    aggregateType: 'order',
    aggregateId,
    eventType: 'order.changed',
    seq,
    payload: { seq },
  };
}

const ROUNDS = 5;
const CLIENTS = 6;
/** A different commit order for each round: none of them the order of BEGIN. */
const COMMIT_ORDERS = [
  [5, 4, 3, 2, 1, 0],
  [3, 0, 5, 1, 4, 2],
  [1, 3, 5, 0, 2, 4],
  [4, 5, 0, 1, 2, 3],
  [2, 0, 4, 5, 3, 1],
];

/**
 * ROUNDS x CLIENTS overlapping transactions, two events each, on three aggregates: every client
 * begins and writes its first event in client order, a few milliseconds apart (so created_at
 * follows that order), writes its second event in the reverse order, then all commit, one after
 * the other, in the round's commit order. Returns the events in the order they were committed.
 */
async function overlappingTransactions(pgUrl: string, names: OutboxNames): Promise<TestEvent[]> {
  const table = `${quoteIdent(names.schema)}.${quoteIdent(names.table)}`;
  const clients = Array.from({ length: CLIENTS }, () => new pg.Client({ connectionString: pgUrl }));
  await Promise.all(clients.map((c) => c.connect()));
  const committed: TestEvent[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const written = clients.map((_, i) => [
        eventOf(`agg-${i % 3}`, 0),
        eventOf(`agg-${i % 3}`, 0),
      ]);
      for (const [i, client] of clients.entries()) {
        await client.query('BEGIN');
        await insertEvents(client, table, [written[i]![0]!]);
        await new Promise((r) => setTimeout(r, 3));
      }
      for (const [i, client] of [...clients.entries()].reverse())
        await insertEvents(client, table, [written[i]![1]!]);
      for (const i of COMMIT_ORDERS[round]!) {
        await clients[i]!.query('COMMIT');
        committed.push(...written[i]!);
      }
    }
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
  return committed;
}

/** Records that reach their key after one that was committed later: 0 when in commit order. */
function reorderedCount(records: readonly ConsumedRecord[], committed: readonly TestEvent[]) {
  const position = new Map(committed.map((e, i) => [e.id, i]));
  const latest = new Map<string, number>();
  let reordered = 0;
  const inLog = [...records].sort(
    (a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)),
  );
  for (const record of inLog) {
    const at = position.get(record.headers.event_id ?? '');
    assert.ok(at !== undefined, `unexpected event ${record.headers.event_id}`);
    const key = record.key ?? '';
    if (at < (latest.get(key) ?? -1)) reordered++;
    else latest.set(key, at);
  }
  return reordered;
}

test('replays each aggregate in commit order when 30 overlapping transactions commit in another order than they began; --order created-at does not', async () => {
  const { pgUrl, kafkaBrokers } = await services();
  const names = uniqueNames('replay_commit');
  await prepareOutbox(pgUrl, names);
  const env = relayEnv(pgUrl, kafkaBrokers, names);
  try {
    const committed = await overlappingTransactions(pgUrl, names);
    assert.equal(committed.length, ROUNDS * CLIENTS * 2);
    const byCommit = `t.${names.id}.by_commit`;
    const byCreatedAt = `t.${names.id}.by_created_at`;
    const inCommitOrder = await replayJson(['--all', '--topic', byCommit], env);
    assert.equal(inCommitOrder.order, 'commit');
    assert.equal(inCommitOrder.sent, committed.length);
    const explicit = ['--all', '--topic', byCreatedAt, '--order', 'created-at'];
    const inCreatedAtOrder = await replayJson(explicit, env);
    assert.equal(inCreatedAtOrder.order, 'created-at');
    const read = (topic: string) =>
      consumeAll({ brokers: kafkaBrokers, topics: [topic], atLeast: committed.length });
    const commitRecords = await read(byCommit);
    const createdAtRecords = await read(byCreatedAt);
    assert.equal(commitRecords.length, committed.length);
    assert.equal(createdAtRecords.length, committed.length);
    const reordered = {
      commit: reorderedCount(commitRecords, committed),
      createdAt: reorderedCount(createdAtRecords, committed),
    };
    process.stderr.write(`reordered versus commit order: ${JSON.stringify(reordered)}\n`);
    assert.equal(reordered.commit, 0);
    assert.ok(reordered.createdAt > 0, 'created_at order differs from commit order here');
  } finally {
    await dropOutbox(pgUrl, names);
  }
});

test('refuses, with exit code 2, to replay several events of an aggregate from an outbox without tx_id and tx_seq, until migrate or --order created-at', async () => {
  const { pgUrl, kafkaBrokers } = await services();
  const names = uniqueNames('replay_legacy');
  await prepareOutbox(pgUrl, names, { before: 3, slot: false });
  const env = relayEnv(pgUrl, kafkaBrokers, names);
  const pool = new pg.Pool({ connectionString: pgUrl, max: 1 });
  try {
    const old = [eventOf('agg-a', 0), eventOf('agg-a', 1), eventOf('agg-b', 0)];
    await writeTransactions(pool, names, [[old[0]!], [old[1]!], [old[2]!]]);
    const refused = await replay(['--all', '--dry-run'], env);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /cannot know the order in which the events of .* were committed/);
    assert.match(refused.stderr, /no tx_id and tx_seq columns \(migration 0003\)/);
    assert.match(refused.stderr, /1 aggregate\(s\) of the selection have more than one event/);
    assert.match(refused.stderr, /what to do: Run "outbox-relay migrate"/);
    assert.match(refused.stderr, /--order created-at/);
    assert.equal(refused.stdout, '');

    const single = await replayJson(['--aggregate-id', 'agg-b', '--dry-run'], env);
    assert.deepEqual([single.selected, single.order], [1, 'created-at'], 'one event: no order');
    const optIn = await replayJson(['--all', '--dry-run', '--order', 'created-at'], env);
    assert.deepEqual([optIn.selected, optIn.order], [3, 'created-at']);

    const migrated = await runCli(['migrate', '--no-slot', '--json'], env);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.deepEqual((JSON.parse(migrated.stdout) as { applied: string[] }).applied, [
      '0003_outbox_commit_order.sql',
    ]);
    const later = [eventOf('agg-a', 2), eventOf('agg-b', 1)];
    await writeTransactions(pool, names, [later]);
    const listed = await replay(['--all', '--dry-run'], env);
    assert.equal(listed.code, 0, listed.stderr);
    const ids = listed.stdout.split('\n').filter((line) => line.includes('\t'));
    assert.deepEqual(
      ids.map((line) => line.split('\t')[0]),
      [...old, ...later].map((e) => e.id),
      'rows from before 0003 first, in created_at order, then the rest in commit order',
    );
  } finally {
    await pool.end();
    await dropOutbox(pgUrl, names);
  }
});

test('refuses, with exit code 2 naming track_commit_timestamp, when PostgreSQL does not record commit times; doctor warns', async () => {
  const { kafkaBrokers } = await services();
  const server = await startLocalPostgres();
  const pgUrl = `postgres://postgres@127.0.0.1:${server.port}/postgres`;
  try {
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query('ALTER SYSTEM SET track_commit_timestamp = off');
    await admin.end();
    await localPostgresControl(server).restart();
    const names = uniqueNames('replay_no_ts');
    await prepareOutbox(pgUrl, names, { slot: false });
    const pool = new pg.Pool({ connectionString: pgUrl, max: 1 });
    await writeTransactions(pool, names, [[eventOf('agg-a', 0)], [eventOf('agg-a', 1)]]);
    await pool.end();
    const env = relayEnv(pgUrl, kafkaBrokers, names);
    const refused = await replay(['--all', '--dry-run'], env);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /track_commit_timestamp is off/);
    assert.match(refused.stderr, /ALTER SYSTEM SET track_commit_timestamp = on;\) and restart/);
    assert.doesNotMatch(refused.stderr, /migration 0003/);
    const optIn = await replayJson(['--all', '--dry-run', '--order', 'created-at'], env);
    assert.deepEqual([optIn.selected, optIn.order], [2, 'created-at']);

    const doctor = await runCli(['doctor', '--json'], env);
    const findings = JSON.parse(doctor.stdout) as { name: string; status: string; fix?: string }[];
    const order = findings.find((f) => f.name === 'replay order');
    assert.equal(order?.status, 'warn', doctor.stdout);
    assert.match(order.fix ?? '', /track_commit_timestamp = on.*restart PostgreSQL/);
  } finally {
    await removeLocalPostgres(server);
  }
});
