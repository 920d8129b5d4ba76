import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { consumeAll } from '../support/consume.ts';
import { planEvents, writeTransactions, type TestEvent } from '../support/fixtures.ts';
import { spawnRelay, waitFor } from '../support/relay.ts';
import { published, readBack, scenario, stopRelay } from '../support/scenario.ts';

function event(aggregateType: string, aggregateId: string, seq: number, pad = 0): TestEvent {
  return {
    id: randomUUID(),
    aggregateType,
    aggregateId,
    eventType: `${aggregateType}.changed`,
    seq,
    payload: { seq, pad: 'p'.repeat(pad) },
  };
}

test('a topic Kafka refuses to create (x.y then x_y collide) dead-letters its events with the reason, and every other event arrives in order', async (t) => {
  const s = await scenario('kerr_collide');
  const relay = spawnRelay(s.env);
  try {
    await relay.waitForLog('streaming');
    const first = [event('x.y', 'xy-1', 0), event('x.y', 'xy-1', 1)];
    await writeTransactions(s.pool, s.names, [first]);
    await waitFor(async () => (await published(relay)) >= 2, 30_000, 'x.y to be created');

    const colliding = [event('x_y', 'x_y-1', 0), event('x_y', 'x_y-2', 0)];
    const later = planEvents({
      total: 300,
      aggregates: 20,
      sizes: [1, 7, 30],
      aggregateTypes: ['order', 'customer', 'x.y'],
    }).flat();
    // The colliding rows go between the others, in the same transactions.
    await writeTransactions(s.pool, s.names, [
      [colliding[0]!, ...later.slice(0, 100)],
      later.slice(100, 200),
      [...later.slice(200), colliding[1]!],
    ]);

    const count = await readBack(
      s,
      [
        ...first,
        ...later.filter((e) => e.aggregateType !== 'x.y'),
        ...later.filter((e) => e.aggregateType === 'x.y'),
      ],
      60_000,
    );
    t.diagnostic(`collision: ${JSON.stringify(count)}`);
    assert.equal(count.lost, 0, `lost: ${count.lostIds.join(', ')}`);
    assert.equal(count.reordered, 0);

    const letters = await consumeAll({
      brokers: s.brokers,
      topics: [s.names.deadLetterTopic],
      atLeast: 2,
    });
    assert.deepEqual(
      letters.map((l) => l.headers.event_id).sort(),
      colliding.map((e) => e.id).sort(),
    );
    for (const letter of letters) {
      assert.equal(letter.headers.dlq_reason, 'unroutable');
      assert.equal(letter.headers.dlq_intended_topic, s.names.topic('x_y'));
      assert.match(letter.headers.dlq_detail ?? '', /INVALID_TOPIC_EXCEPTION/);
      assert.match(
        letter.headers.dlq_detail ?? '',
        new RegExp(
          `collides with the existing topic "${s.names.topic('x.y').replaceAll('.', '\\.')}"`,
        ),
      );
    }
  } finally {
    await stopRelay(relay);
    await s.cleanup();
  }
});

test('a topic deleted while the relay runs is created again, with a warning, and loses nothing written after', async (t) => {
  const s = await scenario('kerr_deleted');
  const relay = spawnRelay(s.env);
  const admin = new Kafka({ brokers: s.brokers, logLevel: logLevel.NOTHING }).admin();
  try {
    await relay.waitForLog('streaming');
    const before = planEvents({ total: 50, aggregates: 5, sizes: [10], aggregateTypes: ['order'] });
    await writeTransactions(s.pool, s.names, before);
    await waitFor(
      async () => (await published(relay)) >= 50,
      30_000,
      'the first events to reach Kafka',
    );

    await admin.connect();
    const topic = s.names.topic('order');
    await admin.deleteTopics({ topics: [topic] });
    await waitFor(async () => !(await admin.listTopics()).includes(topic), 30_000, 'the deletion');

    // Later events of the same aggregates, in order after the first ones.
    const after = planEvents({
      total: 100,
      aggregates: 5,
      sizes: [1, 10, 25],
      aggregateTypes: ['order'],
    })
      .flat()
      .map((e) => ({
        ...e,
        id: randomUUID(),
        seq: e.seq + 100,
        payload: { ...e.payload, seq: e.seq + 100 },
      }));
    await writeTransactions(s.pool, s.names, [after.slice(0, 40), after.slice(40)]);

    const warning = await relay.waitForLog(
      'topic was deleted and is created again: per-key ordering restarts on the new topic (consumers must read it from the beginning)',
      90_000,
    );
    assert.equal(warning.topic, topic);
    const count = await readBack(s, after, 90_000);
    t.diagnostic(`deleted topic: ${JSON.stringify(count)}`);
    assert.equal(count.lost, 0, `lost: ${count.lostIds.join(', ')}`);
    assert.equal(count.reordered, 0);
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    assert.equal(
      metadata.topics[0]?.partitions.length,
      6,
      'created again with RELAY_TOPIC_PARTITIONS',
    );
  } finally {
    await admin.disconnect();
    await stopRelay(relay);
    await s.cleanup();
  }
});

test('at least once: records over the topic max.message.bytes are dead-lettered before they join a request, and no small record is sent twice', async (t) => {
  const s = await scenario('kerr_toolarge');
  const admin = new Kafka({ brokers: s.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const topic = s.names.topic('order');
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic, numPartitions: 6, configEntries: [{ name: 'max.message.bytes', value: '4000' }] },
    ],
  });
  const relay = spawnRelay(s.env);
  try {
    await relay.waitForLog('streaming');
    const small = planEvents({
      total: 600,
      aggregates: 40,
      sizes: [150],
      aggregateTypes: ['order'],
    });
    const oversize = [0, 1, 2, 3].map((i) => event('order', `big-${i}`, 0, 6000));
    // Each transaction mixes small records with an oversize one, so they share requests.
    const transactions = small.map((tx, i) => {
      const mixed = [...tx];
      mixed.splice(40, 0, oversize[i]!);
      return mixed;
    });
    await writeTransactions(s.pool, s.names, transactions);

    const count = await readBack(s, small.flat(), 90_000);
    t.diagnostic(`too large: ${JSON.stringify(count)}`);
    assert.equal(count.lost, 0, `lost: ${count.lostIds.join(', ')}`);
    assert.equal(count.duplicated, 0, 'no small record was sent twice');
    assert.equal(count.reordered, 0);

    const letters = await consumeAll({
      brokers: s.brokers,
      topics: [s.names.deadLetterTopic],
      atLeast: oversize.length,
    });
    assert.deepEqual(
      letters.map((l) => l.headers.event_id).sort(),
      oversize.map((e) => e.id).sort(),
    );
    for (const letter of letters) {
      assert.equal(letter.headers.dlq_reason, 'too-large');
      assert.match(letter.headers.dlq_detail ?? '', /max\.message\.bytes/);
    }
  } finally {
    await admin.disconnect();
    await stopRelay(relay);
    await s.cleanup();
  }
});
