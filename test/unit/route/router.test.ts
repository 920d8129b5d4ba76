import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AGGREGATE_TYPE_HEADER,
  AVRO_CONTENT_TYPE,
  CONTENT_TYPE_HEADER,
  createRouter,
  DEFAULT_TOPIC_TEMPLATE,
  EVENT_ID_HEADER,
  EVENT_TYPE_HEADER,
} from '../../../src/route/index.ts';
import { sampleEvent } from '../encode/sample-event.ts';

const router = createRouter({ topicTemplate: DEFAULT_TOPIC_TEMPLATE });

describe('router', () => {
  it('routes an event to its aggregate type’s topic, keyed by its aggregate id', () => {
    const event = sampleEvent();
    assert.deepEqual(router.route(event), {
      topic: 'outbox.event.order',
      key: 'ord-é中-42',
      headers: {
        event_id: event.id,
        event_type: 'OrderPlaced',
        aggregate_type: 'order',
        'content-type': 'avro/binary',
      },
    });
  });

  it('exports the header names consumers rely on', () => {
    assert.deepEqual(
      [EVENT_ID_HEADER, EVENT_TYPE_HEADER, AGGREGATE_TYPE_HEADER, CONTENT_TYPE_HEADER],
      ['event_id', 'event_type', 'aggregate_type', 'content-type'],
    );
    assert.equal(AVRO_CONTENT_TYPE, 'avro/binary');
  });

  it('uses the event type too when the template asks for it', () => {
    const byType = createRouter({ topicTemplate: 'events.{aggregateType}.{eventType}' });
    assert.equal(byType.route(sampleEvent()).topic, 'events.order.OrderPlaced');
    const shipped = sampleEvent({ eventType: 'OrderShipped' });
    assert.equal(byType.route(shipped).topic, 'events.order.OrderShipped');
  });

  it('refuses an invalid template when the router is created, not per event', () => {
    assert.throws(() => createRouter({ topicTemplate: 'outbox.{aggregate}' }), {
      code: 'CONFIG_INVALID',
      message: /RELAY_TOPIC_TEMPLATE/,
    });
  });

  it('rejects an aggregate type that makes an illegal topic, naming it and the event id', () => {
    const event = sampleEvent({
      id: '11111111-2222-4333-8444-555555555555',
      aggregateType: 'Bestellung/ä',
    });
    assert.throws(() => router.route(event), {
      name: 'RelayError',
      code: 'ENCODE',
      message:
        /event 11111111-2222-4333-8444-555555555555 \(aggregate type "Bestellung\/ä".*"outbox\.event\.Bestellung\/ä"/,
    });
  });

  it('rejects the same illegal aggregate type again for the next event, naming that event', () => {
    const first = sampleEvent({ id: 'aaaaaaaa-0000-4000-8000-000000000001', aggregateType: 'a b' });
    const second = sampleEvent({
      id: 'aaaaaaaa-0000-4000-8000-000000000002',
      aggregateType: 'a b',
    });
    assert.throws(() => router.route(first), { message: new RegExp(first.id) });
    assert.throws(() => router.route(second), { message: new RegExp(second.id) });
  });

  it('rejects a topic longer than 249 characters instead of truncating it', () => {
    const event = sampleEvent({ aggregateType: 'a'.repeat(240) });
    assert.throws(() => router.route(event), { code: 'ENCODE', message: /253 characters/ });
  });

  it('rejects an empty aggregate type instead of producing "outbox.event."', () => {
    assert.throws(() => router.route(sampleEvent({ aggregateType: '' })), {
      code: 'ENCODE',
      message: /aggregateType is empty/,
    });
  });

  it('rejects an empty or missing aggregate id rather than using a constant key', () => {
    for (const aggregateId of ['', null, undefined]) {
      const event = sampleEvent({ aggregateId: aggregateId as string });
      assert.throws(() => router.route(event), {
        name: 'RelayError',
        code: 'ENCODE',
        message: new RegExp(`event ${event.id} has no aggregate id`),
      });
    }
  });

  it('refuses to route into the relay’s own topics or Kafka’s internal ones, naming why', () => {
    const byAggregate = createRouter({
      topicTemplate: '{aggregateType}',
      reservedTopics: [
        {
          topic: 'outbox.deadletter',
          setting: 'RELAY_DEAD_LETTER_TOPIC',
          role: 'dead-letter topic',
        },
        {
          topic: 'outbox-relay.checkpoints',
          setting: 'RELAY_CHECKPOINT_TOPIC',
          role: 'checkpoint topic',
        },
      ],
    });
    const cases: [string, RegExp][] = [
      ['outbox-relay.checkpoints', /relay's checkpoint topic \(RELAY_CHECKPOINT_TOPIC\)/],
      ['outbox.deadletter', /relay's dead-letter topic \(RELAY_DEAD_LETTER_TOPIC\)/],
      ['__consumer_offsets', /beginning with "__" are Kafka's internal topics/],
      ['__transaction_state', /Kafka's internal topics/],
    ];
    for (const [aggregateType, why] of cases) {
      const event = sampleEvent({ aggregateType });
      assert.throws(
        () => byAggregate.route(event),
        { code: 'ENCODE', message: why },
        aggregateType,
      );
      assert.equal(byAggregate.intendedTopic({ aggregateType, eventType: 'x' }), null);
    }
    assert.equal(byAggregate.route(sampleEvent({ aggregateType: 'orders' })).topic, 'orders');
    assert.equal(byAggregate.route(sampleEvent({ aggregateType: '_orders' })).topic, '_orders');
  });
});
