import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_TOPIC_TEMPLATE, parseTopicTemplate } from '../../../src/route/topic-template.ts';

const values = { aggregateType: 'order', eventType: 'OrderPlaced' };

describe('topic template', () => {
  it('defaults to Debezium’s outbox.event.{aggregateType}', () => {
    assert.equal(DEFAULT_TOPIC_TEMPLATE, 'outbox.event.{aggregateType}');
    assert.equal(parseTopicTemplate(DEFAULT_TOPIC_TEMPLATE).render(values), 'outbox.event.order');
  });

  it('fills {eventType} and repeated placeholders, and lists each placeholder once', () => {
    const template = parseTopicTemplate('{aggregateType}.{eventType}.v1.{aggregateType}');
    assert.equal(template.render(values), 'order.OrderPlaced.v1.order');
    assert.deepEqual(template.placeholders, ['aggregateType', 'eventType']);
  });

  it('accepts a template without placeholders, sending every event to one topic', () => {
    const template = parseTopicTemplate('outbox-events');
    assert.equal(template.render(values), 'outbox-events');
    assert.deepEqual(template.placeholders, []);
  });

  it('rejects an unknown placeholder as a configuration error naming RELAY_TOPIC_TEMPLATE', () => {
    assert.throws(() => parseTopicTemplate('outbox.{aggregate_type}'), {
      name: 'RelayError',
      code: 'CONFIG_INVALID',
      message: /RELAY_TOPIC_TEMPLATE "outbox\.\{aggregate_type\}": unknown placeholder/,
    });
  });

  it('rejects unmatched braces, illegal literal characters and an empty template', () => {
    for (const template of ['outbox.{aggregateType', 'outbox}.x', 'outbox/{aggregateType}', '']) {
      assert.throws(() => parseTopicTemplate(template), {
        code: 'CONFIG_INVALID',
        message: /^RELAY_TOPIC_TEMPLATE/,
      });
    }
  });

  it('rejects literal text too long for any topic name', () => {
    assert.throws(() => parseTopicTemplate(`${'a'.repeat(250)}{aggregateType}`), {
      code: 'CONFIG_INVALID',
      message: /over 249/,
    });
  });
});
