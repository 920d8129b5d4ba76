import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lsnFromBigInt as lsn } from '../../../src/domain/lsn.ts';
import { coveredBy, decodeCheckpoint, encodeCheckpoint } from '../../../src/publish/checkpoint.ts';
import { RelayError } from '../../../src/domain/errors.ts';

const SOURCE = { topic: 'relay.checkpoints', key: 'slot_a' };
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
  assert.deepEqual(decodeCheckpoint(value, SOURCE), checkpoint);
  assert.throws(
    () => decodeCheckpoint(Buffer.from('{"hello":1}'), SOURCE),
    /not an outbox-relay checkpoint/,
  );
});

test('refuses a record that is not this slot’s checkpoint, naming the topic, the key and the way out', () => {
  const foreign = [
    Buffer.from([0xc3, 0x01, 0xe7, 0x21, 0x6d, 0x86, 0xdc, 0xf1, 0x62, 0x4d, 0x48]), // an event
    Buffer.from('{"slot":"slot_b","commitLsn":"16/B374D848","index":42}'),
    Buffer.from('{"slot":"slot_a","commitLsn":"not-an-lsn","index":42}'),
    Buffer.from('{"slot":"slot_a","commitLsn":"16/B374D848","index":-1}'),
    Buffer.from('[1,2]'),
  ];
  for (const value of foreign) {
    assert.throws(
      () => decodeCheckpoint(value, SOURCE),
      (error: unknown) => {
        assert.ok(error instanceof RelayError, String(error));
        assert.equal(error.code, 'DECODE');
        assert.equal(error.retriable, false);
        assert.match(error.message, /key "slot_a" in the checkpoint topic "relay\.checkpoints"/);
        assert.match(error.hint ?? '', /RELAY_CHECKPOINT_TOPIC/);
        assert.match(error.hint ?? '', /kafka-console-consumer\.sh .*--topic relay\.checkpoints/);
        assert.match(
          error.hint ?? '',
          /printf 'slot_a:' \| kcat -P -b <broker> -t relay\.checkpoints -K: -Z/,
        );
        return true;
      },
      value.toString('hex'),
    );
  }
});
