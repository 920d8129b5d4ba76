import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodePosition,
  encodePosition,
  judgeHistory,
  planResume,
  positionKey,
  type ServerIdentity,
} from '../../../src/ack/resume.ts';
import { lsnFromBigInt as lsn } from '../../../src/domain/lsn.ts';
import { parseTimelineHistory } from '../../../src/source/protocol.ts';

const primary: ServerIdentity = { systemId: '7300000000000000001', timeline: 1, database: 'app' };
const server = { ...primary, flushLsn: lsn(10_000n) };

test('resumes from the slot when the relay knows no durable position yet', () => {
  assert.deepEqual(planResume(lsn(500n), server, null), { startLsn: 500n, ignored: null });
});

test('resumes from its durable position when Postgres offers the slot from before it', () => {
  const plan = planResume(lsn(500n), server, { identity: primary, lsn: lsn(9_000n) });
  assert.deepEqual(plan, { startLsn: 9_000n, ignored: null });
});

test('never resumes below the slot: a slot moved forward (offsets reset) wins', () => {
  const plan = planResume(lsn(9_500n), server, { identity: primary, lsn: lsn(9_000n) });
  assert.deepEqual(plan, { startLsn: 9_500n, ignored: null });
});

test('ignores a durable position of another cluster, database or timeline, and says why', () => {
  const cases: [Partial<ServerIdentity>, RegExp][] = [
    [{ systemId: '7300000000000000002' }, /system identifier changed/],
    [{ database: 'other' }, /database changed/],
    [{ timeline: 2 }, /timeline 1 is not in the history of the server's timeline 2/],
  ];
  for (const [change, reason] of cases) {
    const plan = planResume(
      lsn(500n),
      { ...server, ...change },
      { identity: primary, lsn: lsn(9_000n) },
    );
    assert.equal(plan.startLsn, 500n, JSON.stringify(change));
    assert.match(plan.ignored ?? '', reason);
  }
});

test('ignores a durable position past the end of the server WAL (a restored cluster)', () => {
  const plan = planResume(
    lsn(500n),
    { ...server, flushLsn: lsn(8_000n) },
    {
      identity: primary,
      lsn: lsn(9_000n),
    },
  );
  assert.equal(plan.startLsn, 500n);
  assert.match(plan.ignored ?? '', /WAL ends at 0\/1F40, before 0\/2328/);
});

test('a durable position reads back as written, and only for its own slot', () => {
  const position = { identity: primary, lsn: lsn(0x1_0000_0010n) };
  const value = encodePosition(position, 'slot_a');
  assert.deepEqual(decodePosition(value, 'slot_a'), position);
  assert.equal(decodePosition(value, 'slot_b'), null);
  assert.equal(positionKey(primary, 'slot_a'), 'position/7300000000000000001/app/slot_a');
});

test('a record that is not a durable position is not used', () => {
  for (const text of [
    'not json',
    '{"slot":"s","commitLsn":"0/1","index":0}',
    '{"kind":"position","slot":"s","systemId":"1","timeline":1,"database":"d","lsn":"nope"}',
  ]) {
    assert.equal(decodePosition(Buffer.from(text), 's'), null, text);
  }
});

// A history file as Postgres writes it for timeline 3: timeline 1 ended at 0/3000000, 2 at 0/5000000.
const HISTORY_3 = '1\t0/3000000\tno recovery target specified\n\n2\t0/5000000\tbefore 2026-12-05\n';

test('reads where each ancestor timeline ended from a timeline history file', () => {
  assert.deepEqual(
    parseTimelineHistory(HISTORY_3),
    new Map([
      [1, 0x300_0000n],
      [2, 0x500_0000n],
    ]),
  );
  assert.deepEqual(parseTimelineHistory(''), new Map());
});

test('a position of an older timeline counts only up to where that timeline left the history', () => {
  const promoted = { ...server, timeline: 3, flushLsn: lsn(0x900_0000n) };
  const history = parseTimelineHistory(HISTORY_3);
  const before = judgeHistory({ identity: primary, lsn: lsn(0x200_0000n) }, promoted, history);
  assert.deepEqual(before, { kind: 'same', lsn: 0x200_0000n });
  const after = judgeHistory({ identity: primary, lsn: lsn(0x400_0000n) }, promoted, history);
  assert.deepEqual(after, {
    kind: 'capped',
    lsn: 0x300_0000n,
    capped: { timeline: 1, switchLsn: 0x300_0000n },
  });
  const plan = planResume(
    lsn(0x100n),
    promoted,
    { identity: primary, lsn: lsn(0x400_0000n) },
    history,
  );
  assert.deepEqual(plan, {
    startLsn: 0x300_0000n,
    ignored: null,
    capped: { timeline: 1, switchLsn: 0x300_0000n },
  });
});

test('a position of an older timeline past the promoted server’s whole WAL is capped, not refused', () => {
  // The usual promotion: the old primary had sent more than the standby ever received, and the
  // new timeline has written little yet, so the old checkpoint lies past the server's WAL end.
  const promoted = { ...server, timeline: 3, flushLsn: lsn(0x300_1000n) };
  const history = parseTimelineHistory(HISTORY_3);
  const verdict = judgeHistory({ identity: primary, lsn: lsn(0x400_0000n) }, promoted, history);
  assert.deepEqual(verdict, {
    kind: 'capped',
    lsn: 0x300_0000n,
    capped: { timeline: 1, switchLsn: 0x300_0000n },
  });
});

test('refuses a position of a later timeline, or of a timeline not in the history', () => {
  const later = judgeHistory(
    { identity: { ...primary, timeline: 4 }, lsn: lsn(0x100n) },
    { ...server, timeline: 3 },
    parseTimelineHistory(HISTORY_3),
  );
  assert.equal(later.kind, 'foreign');
  assert.match(later.kind === 'foreign' ? later.reason : '', /timeline 4.*earlier timeline 3/);
  const sideways = judgeHistory(
    { identity: { ...primary, timeline: 2 }, lsn: lsn(0x100n) },
    { ...server, timeline: 3 },
    new Map([[1, lsn(0x300_0000n)]]),
  );
  assert.equal(sideways.kind, 'foreign');
});
