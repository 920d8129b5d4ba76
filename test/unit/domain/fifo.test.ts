import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fifo } from '../../../src/domain/fifo.ts';

test('gives items back in the order they were pushed, across compactions', () => {
  const fifo = new Fifo<number>();
  let next = 0;
  let expected = 0;
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < 37; i++) fifo.push(next++);
    for (const item of fifo.take(30)) assert.equal(item, expected++);
    assert.equal(fifo.shift(), expected++);
  }
  assert.equal(fifo.length, next - expected);
  assert.equal(fifo.peek(), expected);
});

test('releases what was taken even when the queue never runs empty', () => {
  const fifo = new Fifo<{ n: number }>();
  for (let i = 0; i < 100_000; i++) {
    fifo.push({ n: i });
    if (i % 2 === 1) fifo.take(1);
  }
  // The backing array holds the live items plus at most a bounded consumed prefix.
  const backing = (fifo as unknown as { items: unknown[] }).items.length;
  assert.ok(
    backing <= 2 * fifo.length + 1100,
    `backing array of ${backing} for ${fifo.length} items`,
  );
});

test('takes no more than it holds and empties on clear', () => {
  const fifo = new Fifo<string>();
  fifo.push('a');
  fifo.push('b');
  assert.deepEqual(fifo.take(5), ['a', 'b']);
  assert.equal(fifo.shift(), undefined);
  fifo.push('c');
  fifo.clear();
  assert.equal(fifo.length, 0);
});

test('pops from the back, and keeps the front where it was', () => {
  const fifo = new Fifo<number>();
  for (let i = 0; i < 5; i++) fifo.push(i);
  assert.equal(fifo.shift(), 0);
  assert.equal(fifo.pop(), 4);
  assert.equal(fifo.pop(), 3);
  assert.equal(fifo.length, 2);
  assert.equal(fifo.peek(), 1);
  assert.equal(fifo.shift(), 1);
  assert.equal(fifo.pop(), 2);
  assert.equal(fifo.pop(), undefined);
  assert.equal(fifo.length, 0);
});
