/**
 * OpenTelemetry producer spans, by the messaging semantic conventions: one `send <topic>` span
 * (kind PRODUCER) per produce request and topic, from just before the request until Kafka
 * acknowledges it (or it fails), linked to the trace context that each of its rows carried in
 * its `traceparent` header. A request with one record (or whose records share one context) is
 * also that context's child, so a single event's trace shows the relay's hop.
 *
 * Records keep the row's `traceparent`: consumers continue the writer's trace, not the relay's.
 *
 * Only @opentelemetry/api is used. Without an SDK registered in the process its tracer makes
 * non-recording spans: one per request and topic, and nothing per record.
 */
import {
  context,
  createTraceState,
  isSpanContextValid,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Link,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';
import { RelayError } from '../domain/errors.ts';
import type { KafkaRecord, Placement } from './kafka.ts';

const TRACER_NAME = 'outbox-relay';

/** The W3C `traceparent` of version 00: version-traceid-spanid-flags, lower-case hex. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span context a row's `traceparent` (and `tracestate`) name, or null when there is none. */
export function rowSpanContext(headers: Readonly<Record<string, string>>): SpanContext | null {
  const parent = headers.traceparent;
  if (parent === undefined) return null;
  const match = TRACEPARENT.exec(parent.trim());
  if (!match) return null;
  const [, traceId = '', spanId = '', flags = '00'] = match;
  const state = headers.tracestate;
  const spanContext: SpanContext = {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16) & TraceFlags.SAMPLED,
    isRemote: true,
    ...(state ? { traceState: createTraceState(state) } : {}),
  };
  return isSpanContextValid(spanContext) ? spanContext : null;
}

export interface SendTracing {
  /** Kafka's client id and the first broker, for `messaging.client.id` and `server.address`. */
  readonly clientId: string;
  readonly broker: string;
}

/**
 * Runs `send` for `records` inside one span per topic. `send` resolves with the partitions Kafka
 * placed the records on (a span names the partition when all its records went to one).
 */
export async function tracedSend(
  tracing: SendTracing,
  records: readonly KafkaRecord[],
  send: () => Promise<readonly Placement[]>,
): Promise<readonly Placement[]> {
  const spans = startSpans(tracing, records);
  if (spans.length === 0) return send();
  try {
    const placements = await send();
    for (const { topic, span } of spans) {
      const partitions = new Set(
        placements.filter((p) => p.topic === topic).map((p) => p.partition),
      );
      if (partitions.size === 1) {
        span.setAttribute('messaging.destination.partition.id', String([...partitions][0]));
      }
      span.end();
    }
    return placements;
  } catch (error) {
    const type = error instanceof RelayError ? error.code : 'KAFKA_PUBLISH';
    for (const { span } of spans) {
      span.setAttribute('error.type', type);
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
      span.end();
    }
    throw error;
  }
}

interface TopicSpan {
  readonly topic: string;
  readonly span: Span;
}

function startSpans(tracing: SendTracing, records: readonly KafkaRecord[]): TopicSpan[] {
  const tracer = trace.getTracer(TRACER_NAME);
  const byTopic = new Map<string, KafkaRecord[]>();
  for (const record of records) {
    let group = byTopic.get(record.topic);
    if (!group) byTopic.set(record.topic, (group = []));
    group.push(record);
  }
  const spans: TopicSpan[] = [];
  for (const [topic, group] of byTopic) {
    const links = group.length === 1 ? [] : null;
    const parent = sharedParent(group);
    const span = tracer.startSpan(
      `send ${topic}`,
      { kind: SpanKind.PRODUCER, attributes: attributes(tracing, topic, group) },
      parent ? trace.setSpanContext(context.active(), parent) : context.active(),
    );
    if (!span.isRecording()) return []; // no SDK: nothing more to build, for any topic
    span.addLinks(links ?? recordLinks(group));
    spans.push({ topic, span });
  }
  return spans;
}

/** The one context every record of `group` carries, if they carry exactly one. */
function sharedParent(group: readonly KafkaRecord[]): SpanContext | null {
  const first = group[0];
  if (!first || first.headers.traceparent === undefined) return null;
  for (const record of group) {
    if (record.headers.traceparent !== first.headers.traceparent) return null;
  }
  return rowSpanContext(first.headers);
}

function recordLinks(group: readonly KafkaRecord[]): Link[] {
  const links: Link[] = [];
  for (const record of group) {
    const spanContext = rowSpanContext(record.headers);
    if (spanContext) links.push({ context: spanContext, attributes: messageAttributes(record) });
  }
  return links;
}

function messageAttributes(record: KafkaRecord): Attributes {
  const id = record.headers.event_id;
  return id === undefined ? {} : { 'messaging.message.id': id };
}

function attributes(
  tracing: SendTracing,
  topic: string,
  group: readonly KafkaRecord[],
): Attributes {
  const [host, port] = splitBroker(tracing.broker);
  const attributes: Attributes = {
    'messaging.system': 'kafka',
    'messaging.operation.name': 'send',
    'messaging.operation.type': 'send',
    'messaging.destination.name': topic,
    'messaging.client.id': tracing.clientId,
    'server.address': host,
    ...(port !== undefined ? { 'server.port': port } : {}),
  };
  const only = group.length === 1 ? group[0] : undefined;
  if (only) {
    Object.assign(attributes, messageAttributes(only));
    if (typeof only.key === 'string') attributes['messaging.kafka.message.key'] = only.key;
  } else {
    attributes['messaging.batch.message_count'] = group.length;
  }
  return attributes;
}

function splitBroker(broker: string): [string, number | undefined] {
  const colon = broker.lastIndexOf(':');
  if (colon < 0) return [broker, undefined];
  const port = Number(broker.slice(colon + 1));
  return [broker.slice(0, colon), Number.isInteger(port) ? port : undefined];
}
