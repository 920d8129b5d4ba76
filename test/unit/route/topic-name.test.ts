import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reservedTopicProblem, topicNameProblem } from '../../../src/route/topic-name.ts';

describe('topicNameProblem', () => {
  it('accepts names of letters, digits, dot, underscore and dash up to 249 characters', () => {
    for (const name of ['a', 'outbox.event.Order_v2-eu', 'x'.repeat(249), '...']) {
      assert.equal(topicNameProblem(name), undefined, name);
    }
  });

  it('refuses empty, reserved, over-long and non-ASCII names, saying why', () => {
    assert.match(topicNameProblem('') ?? '', /empty/);
    assert.match(topicNameProblem('.') ?? '', /reserved/);
    assert.match(topicNameProblem('..') ?? '', /reserved/);
    assert.match(topicNameProblem('x'.repeat(250)) ?? '', /250 characters/);
    for (const name of ['a b', 'a/b', 'commande.été', 'a:b']) {
      assert.match(topicNameProblem(name) ?? '', /only ASCII letters/, name);
    }
  });

  it('names Kafka’s internal topics and the relay’s own as reserved', () => {
    const own = [{ topic: 'dlq', setting: 'RELAY_DEAD_LETTER_TOPIC', role: 'dead-letter topic' }];
    assert.match(reservedTopicProblem('__consumer_offsets') ?? '', /Kafka's internal topics/);
    assert.match(reservedTopicProblem('dlq', own) ?? '', /dead-letter topic/);
    assert.equal(reservedTopicProblem('dlq2', own), undefined);
    assert.equal(reservedTopicProblem('_private.topic', own), undefined);
  });
});
