/**
 * Exactly-once never skips events on the word of a checkpoint that another database history
 * wrote: one past this server's WAL stops the relay (exit 1, naming both histories) unless the
 * operator says to ignore it; one of another database or of the old slot-only key is never read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { planEvents, writeTransactions, type TestEvent } from '../support/fixtures.ts';
import { spawnRelay, type RelayChild } from '../support/relay.ts';
import { readBack, scenario, stopRelay, type Scenario } from '../support/scenario.ts';

async function eosScenario(label: string, extra: Record<string, string> = {}) {
  const probe = await scenario(label);
  const checkpointTopic = `t.${probe.names.id}.checkpoints`;
  return {
    ...probe,
    checkpointTopic,
    env: {
      ...probe.env,
      RELAY_DELIVERY: 'exactly-once',
      RELAY_CHECKPOINT_TOPIC: checkpointTopic,
      ...extra,
    },
  };
}

/** This database's history, as the relay names it in the checkpoint key. */
async function history(s: Scenario): Promise<{ systemId: string; database: string }> {
  const { rows } = await s.pool.query<{ id: string; db: string }>(
    'SELECT system_identifier::text AS id, current_database() AS db FROM pg_control_system()',
  );
  return { systemId: rows[0]?.id ?? '', database: rows[0]?.db ?? '' };
}

/** Writes records to the (compacted) checkpoint topic as a relay of another history would have. */
async function forge(
  s: Scenario & { checkpointTopic: string },
  records: { key: string; value: Record<string, unknown> }[],
): Promise<void> {
  const kafka = new Kafka({ brokers: s.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer();
  await admin.connect();
  await producer.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: s.checkpointTopic,
          numPartitions: 1,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
    });
    await producer.send({
      topic: s.checkpointTopic,
      acks: -1,
      messages: records.map((r) => ({ key: r.key, value: JSON.stringify(r.value) })),
    });
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
}

const FAR_AHEAD = 'FF/0';

/** Every event of `transactions` reaches a read_committed reader once, in order. */
async function publishedOnce(s: Scenario, relay: RelayChild, transactions: TestEvent[][]) {
  await relay.waitForLog('streaming', 60_000);
  const count = await readBack(s, transactions.flat(), 60_000, 'read_committed');
  assert.deepEqual(
    { lost: count.lost, duplicated: count.duplicated, reordered: count.reordered },
    { lost: 0, duplicated: 0, reordered: 0 },
    `lost: ${count.lostIds.join(', ')}`,
  );
}

test('exactly-once: a checkpoint past this server’s WAL stops the relay with exit 1, naming both histories; RELAY_CHECKPOINT_MISMATCH=ignore publishes everything', async (t) => {
  const s = await eosScenario('ckpt_ahead');
  try {
    const { systemId, database } = await history(s);
    const key = `checkpoint/${systemId}/${database}/${s.names.slot}`;
    await forge(s, [
      {
        key,
        value: {
          kind: 'checkpoint',
          systemId,
          timeline: 1,
          database,
          slot: s.names.slot,
          commitLsn: FAR_AHEAD,
          index: 0,
        },
      },
    ]);
    const transactions = planEvents({ total: 30, aggregates: 5, sizes: [1, 4, 10] });
    await writeTransactions(s.pool, s.names, transactions);

    const started = Date.now();
    const refused = spawnRelay(s.env);
    const code = await Promise.race([
      refused.exited,
      new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000).unref()),
    ]);
    if (code === 'hung') await stopRelay(refused);
    t.diagnostic(`refused in ${Date.now() - started} ms with exit ${String(code)}`);
    assert.equal(code, 1, 'a foreign checkpoint is fatal');
    const fatal = refused.logs.find((l) => l.msg === 'relay failed');
    const text = JSON.stringify(fatal);
    assert.match(text, /CHECKPOINT_MISMATCH/);
    assert.match(
      text,
      new RegExp(`system ${systemId}, timeline 1, database \\\\"${database}\\\\"`),
    );
    assert.match(text, /its WAL ends at [0-9A-F]+\/[0-9A-F]+/, 'names the server’s position');
    assert.match(text, /RELAY_CHECKPOINT_MISMATCH=ignore/, 'and the way out');

    const relay = spawnRelay({ ...s.env, RELAY_CHECKPOINT_MISMATCH: 'ignore' });
    try {
      await publishedOnce(s, relay, transactions);
      assert.ok(
        relay.logs.some((l) => String(l.msg).startsWith('ignoring a checkpoint of another')),
        'it said what it ignored',
      );
    } finally {
      await stopRelay(relay);
    }
  } finally {
    await s.cleanup();
  }
});

test('exactly-once: checkpoints under another database’s key or the old slot-only key are never read', async () => {
  const s = await eosScenario('ckpt_other');
  try {
    const { systemId, database } = await history(s);
    const forged = (sys: string, db: string) => ({
      kind: 'checkpoint',
      systemId: sys,
      timeline: 1,
      database: db,
      slot: s.names.slot,
      commitLsn: FAR_AHEAD,
      index: 0,
    });
    await forge(s, [
      // what a relay before the history-keyed checkpoint wrote: the slot name alone as key
      { key: s.names.slot, value: { slot: s.names.slot, commitLsn: FAR_AHEAD, index: 0 } },
      // another cluster left on the same slot name and checkpoint topic
      {
        key: `checkpoint/1${systemId.slice(1)}9/${database}/${s.names.slot}`,
        value: forged(`1${systemId.slice(1)}9`, database),
      },
      // another database of this cluster
      {
        key: `checkpoint/${systemId}/other_db/${s.names.slot}`,
        value: forged(systemId, 'other_db'),
      },
    ]);
    const transactions = planEvents({ total: 30, aggregates: 5, sizes: [1, 4, 10] });
    await writeTransactions(s.pool, s.names, transactions);
    const relay = spawnRelay(s.env);
    try {
      await publishedOnce(s, relay, transactions);
      assert.ok(
        !relay.logs.some((l) => String(l.msg).startsWith('ignoring a checkpoint')),
        'none of them was even read',
      );
    } finally {
      await stopRelay(relay);
    }
  } finally {
    await s.cleanup();
  }
});
