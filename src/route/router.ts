/**
 * Where an event goes in Kafka: topic, key and headers. An event that cannot be routed (illegal
 * topic, no key) throws RelayError('ENCODE') naming it, so the pipeline can dead-letter it;
 * nothing is rewritten or defaulted, since a silently renamed topic or a constant key would
 * scatter or pile up events where no consumer looks.
 */
import { RelayError } from '../domain/errors.ts';
import type { OutboxEvent } from '../domain/event.ts';
import { recordHeaders } from './headers.ts';
import { reservedTopicProblem, topicNameProblem, type ReservedTopic } from './topic-name.ts';
import {
  parseTopicTemplate,
  TOPIC_TEMPLATE_SETTING,
  type TopicTemplate,
} from './topic-template.ts';

export interface RoutedRecord {
  readonly topic: string;
  /** The aggregate id: one aggregate's events share a partition, so they stay in order. */
  readonly key: string;
  readonly headers: Record<string, string>;
}

export interface Router {
  /** Throws RelayError('ENCODE') naming the event id if the event cannot be routed. */
  route(event: OutboxEvent): RoutedRecord;
  /** The topic a row would have gone to, for a dead letter's header; null when unknowable. */
  intendedTopic(row: { aggregateType: string | null; eventType: string | null }): string | null;
}

export interface RouterOptions {
  /** RELAY_TOPIC_TEMPLATE, e.g. `outbox.event.{aggregateType}`. */
  readonly topicTemplate: string;
  /** RELAY_CLOUDEVENTS: the `ce_source` to add CloudEvents headers with, or undefined for none. */
  readonly cloudEventsSource?: string | undefined;
  /**
   * The relay's own topics (dead letters, checkpoints): an event routed to one is refused, as is
   * one routed to a Kafka-internal `__` topic. A checkpoint record that is not a checkpoint
   * stops exactly-once at every start; an event among dead letters looks like a bad row.
   */
  readonly reservedTopics?: readonly ReservedTopic[];
  /** RELAY_VALUE_FORMAT=raw: no `content-type` header. */
  readonly rawValue?: boolean | undefined;
  /** RELAY_OUTBOX_LAYOUT=debezium: Debezium's `id` header too. */
  readonly idHeader?: boolean | undefined;
}

/** Parses the template now: an invalid one throws RelayError('CONFIG_INVALID'). */
export function createRouter(options: RouterOptions): Router {
  const template = parseTopicTemplate(options.topicTemplate);
  const reserved = options.reservedTopics ?? [];
  const problem = (topic: string) =>
    topicNameProblem(topic) ?? reservedTopicProblem(topic, reserved);
  const topicFor = createTopicResolver(template, problem);
  return {
    route: (event) => ({
      topic: topicFor(event),
      key: routeKey(event),
      headers: recordHeaders(event, options),
    }),
    intendedTopic: ({ aggregateType, eventType }) => {
      const values = { aggregateType: aggregateType ?? '', eventType: eventType ?? '' };
      if (template.placeholders.some((name) => !values[name])) return null;
      const topic = template.render(values);
      return problem(topic) === undefined ? topic : null;
    },
  };
}

export function routeKey(event: OutboxEvent): string {
  const id: unknown = event.key ?? event.aggregateId;
  if (typeof id !== 'string' || id.length === 0) {
    throw new RelayError('ENCODE', `event ${event.id} has no aggregate id, so no Kafka key`, {
      hint: 'The writing service must set aggregate_id; the event can be dead-lettered.',
    });
  }
  return id;
}

// Aggregate types are few; the bound only guards against a writer inventing one per event.
const MAX_CACHED_TOPICS = 10_000;

/** A legal topic name, or why the template's result is not one. */
type CachedTopic = { readonly topic: string; readonly problem: string | undefined };

function createTopicResolver(
  template: TopicTemplate,
  problem: (topic: string) => string | undefined,
): (event: OutboxEvent) => string {
  const cache = new Map<string, CachedTopic>();
  const byEventType = template.placeholders.includes('eventType');
  return (event) => {
    const cacheKey = byEventType
      ? `${event.aggregateType}\u0000${event.eventType}`
      : event.aggregateType;
    let cached = cache.get(cacheKey);
    if (cached === undefined) {
      if (cache.size >= MAX_CACHED_TOPICS) cache.clear();
      cached = renderTopic(template, event, problem);
      cache.set(cacheKey, cached);
    }
    if (cached.problem !== undefined) throw topicError(event, cached);
    return cached.topic;
  };
}

function renderTopic(
  template: TopicTemplate,
  event: OutboxEvent,
  problem: (topic: string) => string | undefined,
): CachedTopic {
  const values = { aggregateType: event.aggregateType, eventType: event.eventType };
  const empty = template.placeholders.find((name) => !values[name]);
  if (empty !== undefined) {
    return { topic: '', problem: `the event's ${empty} is empty` };
  }
  const topic = template.render(values);
  return { topic, problem: problem(topic) };
}

function topicError(event: OutboxEvent, cached: CachedTopic): RelayError {
  const message =
    `event ${event.id} (aggregate type ${JSON.stringify(event.aggregateType)}, event type ` +
    `${JSON.stringify(event.eventType)}) maps to topic ${JSON.stringify(cached.topic)}, ` +
    `not a topic events may go to: ${cached.problem}`;
  return new RelayError('ENCODE', message, {
    hint: `Fix the aggregate type the writing service stores, or ${TOPIC_TEMPLATE_SETTING}; the event can be dead-lettered.`,
  });
}
