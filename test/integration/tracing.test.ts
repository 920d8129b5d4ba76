/**
 * OpenTelemetry producer spans against the real broker, read from an in-memory exporter: their
 * names, kind and messaging attributes, the links to each row's traceparent, and the parentage
 * of a request that carries one event. And with no SDK registered, no span at all.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { lsnFromBigInt } from '../../src/domain/lsn.ts';
import { createEnvelopeEncoder } from '../../src/encode/encoder.ts';
import { createLogger } from '../../src/ops/logger.ts';
import { createKafkaSink, type KafkaSink } from '../../src/publish/kafka.ts';
import { Publisher, type PendingRecord } from '../../src/publish/publisher.ts';
import { services } from '../support/fixtures.ts';

const CLIENT_ID = 'tracing-test';
const exporter = new InMemorySpanExporter();
const encoder = createEnvelopeEncoder();
let sink: KafkaSink;
let broker: string;

before(async () => {
  const { kafkaBrokers } = await services();
  broker = kafkaBrokers[0] ?? '';
  sink = createKafkaSink({
    brokers: kafkaBrokers,
    clientId: CLIENT_ID,
    partitions: 3,
    replicationFactor: -1,
    logger: createLogger('silent'),
  });
  await sink.connect();
});

after(async () => {
  trace.disable();
  await sink.disconnect();
});

function traceparent(): { header: string; traceId: string; spanId: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { header: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

function record(topic: string, key: string, headers: Record<string, string>): PendingRecord {
  return {
    topic,
    key,
    value: Buffer.from(`{"key":"${key}"}`),
    headers: { event_id: randomUUID(), ...headers },
    txSeq: 1,
    commitTimeMicros: 0n,
    commitLsn: lsnFromBigInt(1n),
    index: 0,
  };
}

async function publish(records: PendingRecord[]): Promise<PendingRecord[]> {
  const acknowledged: PendingRecord[] = [];
  const publisher = new Publisher(
    sink,
    {
      acknowledged: (sent) => acknowledged.push(...sent),
      failed: (error) => assert.fail(`a send failed: ${String(error)}`),
      refused: () => assert.fail('a record was refused'),
      seal: (queued) => encoder.seal(queued),
    },
    { batchMaxEvents: 100, batchMaxBytes: 1_000_000, tracing: { clientId: CLIENT_ID, broker } },
  );
  for (const r of records) publisher.enqueue(r);
  await publisher.drain();
  return acknowledged;
}

describe('OpenTelemetry send spans', () => {
  it('makes no span when no SDK is registered', async () => {
    const topic = `tracing-none-${randomUUID()}`;
    const sent = await publish([record(topic, 'a', { traceparent: traceparent().header })]);
    assert.equal(sent.length, 1);
    assert.equal(exporter.getFinishedSpans().length, 0);
  });

  it('names each request and topic, links every row, and is the child of a lone row', async () => {
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    assert.ok(trace.setGlobalTracerProvider(provider));
    const batchTopic = `tracing-batch-${randomUUID()}`;
    const loneTopic = `tracing-lone-${randomUUID()}`;
    const parents = [traceparent(), traceparent(), traceparent()];
    const batch = parents.map((p, i) => record(batchTopic, `k${i}`, { traceparent: p.header }));
    // Not a valid context: no link for it.
    batch.push(record(batchTopic, 'k3', { traceparent: 'not-a-traceparent' }));
    // A first request for the batch topic is cut with its first record alone: the rest follow
    // in the next one, as under load.
    await publish(batch);
    const lone = traceparent();
    await publish([record(loneTopic, 'only', { traceparent: lone.header })]);
    await provider.forceFlush();

    const spans = exporter.getFinishedSpans();
    const batchSpans = spans.filter((s) => s.name === `send ${batchTopic}`);
    const loneSpans = spans.filter((s) => s.name === `send ${loneTopic}`);
    assert.ok(batchSpans.length >= 1, `spans: ${spans.map((s) => s.name).join(', ')}`);
    assert.equal(loneSpans.length, 1);

    for (const span of [...batchSpans, ...loneSpans]) {
      assert.equal(span.kind, SpanKind.PRODUCER);
      assert.notEqual(span.status.code, SpanStatusCode.ERROR);
      assert.equal(span.attributes['messaging.system'], 'kafka');
      assert.equal(span.attributes['messaging.operation.name'], 'send');
      assert.equal(span.attributes['messaging.operation.type'], 'send');
      assert.equal(span.attributes['messaging.client.id'], CLIENT_ID);
      assert.equal(span.attributes['server.address'], broker.slice(0, broker.lastIndexOf(':')));
    }
    // Every row with a valid traceparent is linked from the span of its request, or is its parent.
    const linked = new Set(
      batchSpans.flatMap((s) => [
        ...s.links.map((l) => `${l.context.traceId}/${l.context.spanId}`),
        ...(s.parentSpanContext
          ? [`${s.parentSpanContext.traceId}/${s.parentSpanContext.spanId}`]
          : []),
      ]),
    );
    for (const p of parents) assert.ok(linked.has(`${p.traceId}/${p.spanId}`), 'a row not linked');
    const counted = batchSpans.reduce(
      (n, s) => n + Number(s.attributes['messaging.batch.message_count'] ?? 1),
      0,
    );
    assert.equal(counted, batch.length, 'batch sizes add up to the records sent');
    for (const s of batchSpans.filter((b) => b.attributes['messaging.batch.message_count'])) {
      assert.equal(s.parentSpanContext, undefined, 'a batch of several contexts has no parent');
    }

    const [single] = loneSpans;
    assert.ok(single);
    assert.equal(single.parentSpanContext?.traceId, lone.traceId, 'in the row’s trace');
    assert.equal(single.parentSpanContext?.spanId, lone.spanId, 'the row’s span is its parent');
    assert.equal(single.spanContext().traceId, lone.traceId);
    assert.equal(single.attributes['messaging.destination.name'], loneTopic);
    assert.equal(single.attributes['messaging.kafka.message.key'], 'only');
    assert.equal(typeof single.attributes['messaging.message.id'], 'string');
    assert.equal(single.attributes['messaging.batch.message_count'], undefined);
    const partition = Number(single.attributes['messaging.destination.partition.id']);
    assert.ok(partition >= 0 && partition < 3, 'the partition Kafka wrote it to');
  });
});
