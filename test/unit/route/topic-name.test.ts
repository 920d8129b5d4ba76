import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { topicNameProblem } from '../../../src/route/topic-name.ts';

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
});
