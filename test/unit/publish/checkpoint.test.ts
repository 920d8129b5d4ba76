import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lsnFromBigInt as lsn } from '../../../src/domain/lsn.ts';
import {
  checkpointKey,
  coveredBy,
  decodeCheckpoint,
  defaultTransactionalId,
  encodeCheckpoint,
} from '../../../src/publish/checkpoint.ts';
import { RelayError } from '../../../src/domain/errors.ts';

const IDENTITY = { systemId: '7300000000000000001', timeline: 2, database: 'app' };
const KEY = 'checkpoint/7300000000000000001/app/slot_a';
const SOURCE = { topic: 'relay.checkpoints', key: KEY, slot: 'slot_a' };
const HISTORY =
  '"kind":"checkpoint","systemId":"7300000000000000001","timeline":2,"database":"app"';
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

test('is keyed, and its transactional id named, by the database history and the slot', () => {
  assert.equal(checkpointKey(IDENTITY, 'slot_a'), KEY);
  assert.equal(
    defaultTransactionalId(IDENTITY, 'slot_a'),
    'outbox-relay.7300000000000000001.app.slot_a',
  );
});

test('round-trips through its record value, with the history it was written on', () => {
  const checkpoint = at(0x16_b374_d848n, 42);
  const value = encodeCheckpoint('slot_a', { identity: IDENTITY, checkpoint });
  assert.deepEqual(JSON.parse(value.toString()), {
    kind: 'checkpoint',
    systemId: '7300000000000000001',
    timeline: 2,
    database: 'app',
    slot: 'slot_a',
    commitLsn: '16/B374D848',
    index: 42,
  });
  assert.deepEqual(decodeCheckpoint(value, SOURCE), { identity: IDENTITY, checkpoint });
  assert.throws(
    () => decodeCheckpoint(Buffer.from('{"hello":1}'), SOURCE),
    /not an outbox-relay checkpoint/,
  );
});

test('refuses a record that is not this slot’s checkpoint, naming the topic, the key and the way out', () => {
  const foreign = [
    Buffer.from([0xc3, 0x01, 0xe7, 0x21, 0x6d, 0x86, 0xdc, 0xf1, 0x62, 0x4d, 0x48]), // an event
    Buffer.from(`{${HISTORY},"slot":"slot_b","commitLsn":"16/B374D848","index":42}`),
    Buffer.from(`{${HISTORY},"slot":"slot_a","commitLsn":"not-an-lsn","index":42}`),
    Buffer.from(`{${HISTORY},"slot":"slot_a","commitLsn":"16/B374D848","index":-1}`),
    // written by an earlier version, without the history: never guessed at
    Buffer.from('{"slot":"slot_a","commitLsn":"16/B374D848","index":42}'),
    Buffer.from('[1,2]'),
  ];
  for (const value of foreign) {
    assert.throws(
      () => decodeCheckpoint(value, SOURCE),
      (error: unknown) => {
        assert.ok(error instanceof RelayError, String(error));
        assert.equal(error.code, 'DECODE');
        assert.equal(error.retriable, false);
        assert.match(
          error.message,
          /key "checkpoint\/7300000000000000001\/app\/slot_a" in the checkpoint topic "relay\.checkpoints"/,
        );
        assert.match(error.hint ?? '', /RELAY_CHECKPOINT_TOPIC/);
        assert.match(error.hint ?? '', /kafka-console-consumer\.sh .*--topic relay\.checkpoints/);
        assert.match(
          error.hint ?? '',
          /printf 'checkpoint\/7300000000000000001\/app\/slot_a:' \| kcat -P -b <broker> -t relay\.checkpoints -K: -Z/,
        );
        return true;
      },
      value.toString('hex'),
    );
  }
});
