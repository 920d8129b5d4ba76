import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, backoffDelay } from '../../../src/domain/retry.ts';

const policy = { initialMs: 250, maxMs: 5_000 };

test('doubles the ceiling of the wait with each retry until it reaches the cap', () => {
  const almostOne = () => 1 - Number.EPSILON;
  const ceilings = [1, 2, 3, 4, 5, 6, 7, 50].map((n) => backoffDelay(policy, n, almostOne));
  assert.deepEqual(ceilings, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
});

test('draws each wait from zero up to its ceiling (full jitter)', () => {
  assert.equal(
    backoffDelay(policy, 3, () => 0),
    0,
  );
  assert.equal(
    backoffDelay(policy, 3, () => 0.5),
    500,
  );
  for (let i = 0; i < 1_000; i++) {
    const wait = backoffDelay(policy, 4);
    assert.ok(Number.isInteger(wait) && wait >= 0 && wait <= 2_000, `wait ${wait}`);
  }
});

test('spreads the waits of relays that failed together', () => {
  const waits = new Set(Array.from({ length: 20 }, () => backoffDelay(policy, 6)));
  assert.ok(waits.size > 10, `only ${waits.size} distinct waits out of 20`);
});

test('starts again from the first ceiling after reset', () => {
  const backoff = new Backoff(policy, () => 1 - Number.EPSILON);
  assert.deepEqual([backoff.next(), backoff.next(), backoff.next()], [250, 500, 1000]);
  backoff.reset();
  assert.equal(backoff.next(), 250);
});
