import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorMessage, errorStack, RelayError } from '../../../src/domain/errors.ts';

test('says what an error says, and what anything else thrown is', () => {
  assert.equal(errorMessage(new RelayError('PG_CONNECT', 'refused')), 'refused');
  assert.equal(errorMessage('plain string'), 'plain string');
  assert.equal(errorMessage(42), '42');
  assert.equal(errorMessage(undefined), 'undefined');
});

test('adds the stack of an error, and falls back to the message without one', () => {
  const error = new Error('boom');
  assert.match(errorStack(error), /^Error: boom\n\s+at /);
  error.stack = undefined;
  assert.equal(errorStack(error), 'boom');
  assert.equal(errorStack({ not: 'an error' }), '[object Object]');
});
