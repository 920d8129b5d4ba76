import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { quoteIdent } from '../../src/db/sql.ts';
import { consumeAll, decodeAll, type ConsumedRecord } from '../support/consume.ts';
import {
  dropOutbox,
  planEvents,
  prepareOutbox,
  services,
  uniqueNames,
  writeTransactions,
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

test('an unknown option, a bad --rate or --topic, or a time PostgreSQL cannot read exits with 2', async () => {
  const outbox = await outboxWith('replay_usage', 1);
  try {
    for (const [args, message] of [
      [['--all', '--bogus'], /unknown option '--bogus'/],
      [['--all', '--rate', 'fast'], /--rate must be a positive number/],
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
