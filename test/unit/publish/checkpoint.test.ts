import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lsnFromBigInt as lsn } from '../../../src/domain/lsn.ts';
import { coveredBy, decodeCheckpoint, encodeCheckpoint } from '../../../src/publish/checkpoint.ts';

const at = (commit: bigint, index: number) => ({ commitLsn: lsn(commit), index });

test('a checkpoint covers earlier transactions and earlier events of its own transaction only', () => {
  const checkpoint = at(0x1_0000_0000n, 5);
  assert.equal(
    coveredBy(at(0xffff_ffffn, 900), checkpoint),
    true,
    'earlier transaction, across 2^32',
  );
  assert.equal(coveredBy(at(0x1_0000_0000n, 5), checkpoint), true, 'the event itself');
  assert.equal(
    coveredBy(at(0x1_0000_0000n, 6), checkpoint),
    false,
    'later event, same transaction',
  );
  assert.equal(coveredBy(at(0x1_0000_0001n, 0), checkpoint), false, 'later transaction');
  assert.equal(coveredBy(at(1n, 0), null), false, 'no checkpoint covers nothing');
});

test('round-trips through its record value and rejects foreign values', () => {
  const checkpoint = at(0x16_b374_d848n, 42);
  const value = encodeCheckpoint('slot_a', checkpoint);
  assert.deepEqual(JSON.parse(value.toString()), {
    slot: 'slot_a',
    commitLsn: '16/B374D848',
    index: 42,
  });
  assert.deepEqual(decodeCheckpoint(value), checkpoint);
  assert.throws(
    () => decodeCheckpoint(Buffer.from('{"hello":1}')),
    /not an outbox-relay checkpoint/,
  );
});
