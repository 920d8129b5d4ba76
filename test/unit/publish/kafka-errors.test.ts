import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  classifyKafkaError,
  classifyPerTopic,
  collidingTopic,
} from '../../../src/publish/kafka-errors.ts';

/** Errors shaped as kafkajs 2.2.4 throws them (checked against a real broker). */
function protocolError(type: string, message = `broker says ${type}`) {
  return Object.assign(new Error(message), {
    name: 'KafkaJSProtocolError',
    type,
    retriable: false,
  });
}

function retriesExceeded(cause: Error) {
  return Object.assign(new Error(cause.message, { cause }), {
    name: 'KafkaJSNumberOfRetriesExceeded',
    originalError: cause,
  });
}

function creationErrors(perTopic: Record<string, string>) {
  const errors = Object.entries(perTopic).map(([topic, type]) =>
    Object.assign(protocolError(type), { name: 'KafkaJSCreateTopicError', topic }),
  );
  return Object.assign(new Error('Topic creation errors'), {
    name: 'KafkaJSAggregateError',
    errors,
  });
}

describe('classifying Kafka errors', () => {
  it('dead-letters what is tied to one record or topic and that retrying cannot fix', () => {
    for (const [type, kind, scope] of [
      ['MESSAGE_TOO_LARGE', 'too-large', 'record'],
      ['RECORD_LIST_TOO_LARGE', 'too-large', 'record'],
      ['INVALID_RECORD', 'refused', 'record'],
      ['INVALID_TOPIC_EXCEPTION', 'refused', 'topic'],
      ['TOPIC_AUTHORIZATION_FAILED', 'refused', 'topic'],
      ['POLICY_VIOLATION', 'refused', 'topic'],
    ] as const) {
      const c = classifyKafkaError(protocolError(type));
      assert.deepEqual([c.type, c.kind, c.scope], [type, kind, scope]);
    }
  });

  it('finds the broker error under the retry wrappers and keeps its message', () => {
    const c = classifyKafkaError(retriesExceeded(protocolError('MESSAGE_TOO_LARGE', 'too big')));
    assert.equal(c.kind, 'too-large');
    assert.equal(c.message, 'too big');
  });

  it('treats a deleted topic or a moved leader as stale metadata, to refresh and retry', () => {
    for (const type of [
      'UNKNOWN_TOPIC_OR_PARTITION',
      'NOT_LEADER_FOR_PARTITION',
      'LEADER_NOT_AVAILABLE',
    ]) {
      assert.equal(classifyKafkaError(retriesExceeded(protocolError(type))).kind, 'stale-metadata');
    }
    const notLoaded = Object.assign(new Error('Producing to topic without metadata'), {
      name: 'KafkaJSMetadataNotLoaded',
    });
    assert.equal(classifyKafkaError(notLoaded).kind, 'stale-metadata');
  });

  it('stops the relay on refusals of the relay itself, with a hint naming the setting', () => {
    for (const [type, setting] of [
      ['CLUSTER_AUTHORIZATION_FAILED', 'RELAY_KAFKA_SASL_USERNAME'],
      ['TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'RELAY_KAFKA_TRANSACTIONAL_ID'],
      ['SASL_AUTHENTICATION_FAILED', 'RELAY_KAFKA_SASL_PASSWORD'],
      ['INVALID_PARTITIONS', 'RELAY_TOPIC_PARTITIONS'],
    ] as const) {
      const c = classifyKafkaError(protocolError(type));
      assert.equal(c.kind, 'fatal', type);
      assert.match(c.hint ?? '', new RegExp(setting), type);
    }
    const sasl = Object.assign(new Error('SASL PLAIN authentication failed'), {
      name: 'KafkaJSSASLAuthenticationError',
    });
    assert.equal(classifyKafkaError(retriesExceeded(sasl)).kind, 'fatal');
  });

  it('retries outages, timeouts and anything it does not know', () => {
    for (const type of [
      'REQUEST_TIMED_OUT',
      'NOT_ENOUGH_REPLICAS',
      'NOT_CONTROLLER',
      'OUT_OF_ORDER_SEQUENCE_NUMBER',
    ]) {
      assert.equal(classifyKafkaError(protocolError(type)).kind, 'retriable', type);
    }
    const closed = Object.assign(new Error('Connection closed'), {
      name: 'KafkaJSConnectionClosedError',
    });
    assert.equal(classifyKafkaError(closed).kind, 'retriable');
    assert.equal(classifyKafkaError('a string').kind, 'retriable');
  });

  it('reads topic creation errors topic by topic', () => {
    const perTopic = classifyPerTopic(
      creationErrors({ 'a.x_y': 'INVALID_TOPIC_EXCEPTION', 'a.b': 'TOPIC_ALREADY_EXISTS' }),
    );
    assert.deepEqual(
      [...perTopic].map(([topic, c]) => [topic, c.kind, c.type, c.topic]),
      [
        ['a.x_y', 'refused', 'INVALID_TOPIC_EXCEPTION', 'a.x_y'],
        ['a.b', 'retriable', 'TOPIC_ALREADY_EXISTS', 'a.b'],
      ],
    );
    assert.equal(classifyPerTopic(protocolError('REQUEST_TIMED_OUT')).size, 0);
  });

  it('names the existing topic a new one collides with by . versus _', () => {
    assert.equal(collidingTopic('t.x_y', ['t.other', 't.x.y']), 't.x.y');
    assert.equal(collidingTopic('t_x.y', ['t.x_y']), 't.x_y');
    assert.equal(collidingTopic('t.x.y', ['t.x.y', 't.xy']), null);
  });
});
