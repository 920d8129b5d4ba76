import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckTracker } from '../../../src/ack/tracker.ts';
import { lsnFromBigInt as lsn } from '../../../src/domain/lsn.ts';

function committed(tracker: AckTracker, events: number, endLsn: bigint): number {
  const seq = tracker.begin();
  tracker.add(seq, events);
  tracker.commit(seq, lsn(endLsn));
  return seq;
}

test('acknowledges only the highest contiguous commit LSN when publishes finish out of order', () => {
  const tracker = new AckTracker();
  const a = committed(tracker, 2, 100n);
  const b = committed(tracker, 1, 200n);
  const c = committed(tracker, 3, 300n);
  tracker.acknowledge(c, 3);
  tracker.acknowledge(b, 1);
  assert.equal(tracker.durableLsn, 0n, 'nothing is durable while the first transaction waits');
  tracker.acknowledge(a, 1);
  assert.equal(tracker.durableLsn, 0n, 'half a transaction is not durable');
  tracker.acknowledge(a, 1);
  assert.equal(tracker.durableLsn, 300n);
  assert.equal(tracker.inFlightEvents, 0);
  assert.equal(tracker.idle, true);
});

test('does not move past a transaction whose COMMIT has not arrived, even with all acks in', () => {
  const tracker = new AckTracker();
  const a = committed(tracker, 1, 100n);
  const b = tracker.begin();
  tracker.add(b, 2);
  tracker.acknowledge(a);
  tracker.acknowledge(b, 2);
  assert.equal(tracker.durableLsn, 100n);
  tracker.commit(b, lsn(250n));
  assert.equal(tracker.durableLsn, 250n);
});

test('treats an empty transaction as durable at its COMMIT once everything before is', () => {
  const tracker = new AckTracker();
  const a = committed(tracker, 1, 100n);
  committed(tracker, 0, 150n);
  assert.equal(tracker.durableLsn, 0n);
  tracker.acknowledge(a);
  assert.equal(tracker.durableLsn, 150n);
});

test('follows the server position while idle, and ignores it while anything is in flight', () => {
  const tracker = new AckTracker(lsn(50n));
  tracker.observeIdle(lsn(80n));
  assert.equal(tracker.durableLsn, 80n);
  const a = committed(tracker, 1, 100n);
  tracker.observeIdle(lsn(500n));
  assert.equal(tracker.durableLsn, 80n, 'must not skip an unacknowledged transaction');
  tracker.acknowledge(a);
  tracker.observeIdle(lsn(500n));
  assert.equal(tracker.durableLsn, 500n);
});

test('never moves the durable LSN backwards', () => {
  const tracker = new AckTracker(lsn(1000n));
  tracker.observeIdle(lsn(10n));
  const a = committed(tracker, 1, 900n);
  tracker.acknowledge(a);
  assert.equal(tracker.durableLsn, 1000n);
});

test('keeps its bookkeeping bounded over many transactions', () => {
  const tracker = new AckTracker();
  for (let i = 1; i <= 100_000; i++) tracker.acknowledge(committed(tracker, 1, BigInt(i)));
  assert.equal(tracker.durableLsn, 100_000n);
  assert.equal(tracker.idle, true);
});

test('refuses acknowledgements it cannot account for', () => {
  const tracker = new AckTracker();
  const a = committed(tracker, 1, 100n);
  assert.throws(() => tracker.acknowledge(a, 2), /more acks than events/);
  assert.throws(() => tracker.acknowledge(99), /not open/);
  assert.throws(() => tracker.add(a), /already committed/);
});

test('folds empty transactions committed behind a waiting one into a single entry', () => {
  const tracker = new AckTracker();
  const a = committed(tracker, 1, 100n);
  committed(tracker, 0, 150n);
  committed(tracker, 0, 175n);
  assert.equal(tracker.openTransactions, 1);
  assert.equal(tracker.durableLsn, 0n, 'nothing is durable while the event waits');
  tracker.acknowledge(a);
  assert.equal(tracker.durableLsn, 175n, 'then everything up to the last empty COMMIT is');
  assert.equal(tracker.idle, true);
});

test('keeps the tracker small when thousands of empty transactions arrive behind one stuck event', () => {
  const tracker = new AckTracker();
  const stuck = committed(tracker, 1, 100n);
  let end = 100n;
  for (let i = 0; i < 10_000; i++) {
    end += 10n;
    const seq = tracker.begin();
    assert.ok(tracker.openTransactions <= 2, `${tracker.openTransactions} entries after ${i}`);
    tracker.commit(seq, lsn(end));
    assert.equal(tracker.durableLsn, 0n);
  }
  assert.equal(tracker.openTransactions, 1);
  assert.equal(tracker.oldestOpenCommitTimeMicros, 0n);
  tracker.acknowledge(stuck);
  assert.equal(tracker.durableLsn, end);
  assert.equal(tracker.openTransactions, 0);
});

test('does not fold a transaction with events still in flight, nor into an open one', () => {
  const tracker = new AckTracker();
  const a = committed(tracker, 1, 100n);
  const b = committed(tracker, 2, 200n);
  assert.equal(tracker.openTransactions, 2, 'b waits for its own events');
  tracker.acknowledge(b, 2);
  assert.equal(tracker.durableLsn, 0n, 'b is done, but a is not');
  const c = committed(tracker, 0, 300n);
  tracker.acknowledge(a);
  assert.equal(tracker.durableLsn, 300n);
  assert.throws(() => tracker.acknowledge(c), /not open/);

  const open = tracker.begin();
  tracker.add(open);
  assert.equal(tracker.durableLsn, 300n);
  tracker.acknowledge(open);
  assert.equal(tracker.durableLsn, 300n, 'an open transaction is never durable before its COMMIT');
  tracker.commit(open, lsn(400n));
  assert.equal(tracker.durableLsn, 400n);
});

test('folds a transaction whose events were all acknowledged before its COMMIT arrived', () => {
  const tracker = new AckTracker();
  const a = committed(tracker, 1, 100n);
  const b = tracker.begin();
  tracker.add(b, 3);
  tracker.acknowledge(b, 3);
  tracker.commit(b, lsn(200n));
  assert.equal(tracker.openTransactions, 1);
  assert.equal(tracker.durableLsn, 0n);
  tracker.acknowledge(a);
  assert.equal(tracker.durableLsn, 200n);
});

test('keeps the commit time of the oldest waiting transaction when later ones fold into it', () => {
  const tracker = new AckTracker();
  const seq = tracker.begin(1_000n);
  tracker.add(seq);
  tracker.commit(seq, lsn(100n));
  const empty = tracker.begin(2_000n);
  tracker.commit(empty, lsn(150n));
  assert.equal(tracker.oldestOpenCommitTimeMicros, 1_000n);
});
