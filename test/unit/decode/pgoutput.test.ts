import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePgoutput, UNCHANGED_TOAST } from '../../../src/decode/pgoutput.ts';
import { lsnFromBigInt } from '../../../src/domain/lsn.ts';
import {
  begin,
  Bytes,
  commit,
  deleteRow,
  insert,
  logicalMessage,
  OID,
  origin,
  relation,
  truncate,
  type,
  update,
} from './pgoutput-builder.ts';

/** 2026-11-22T03:00:05.123456Z, in Unix and in PostgreSQL microseconds. */
const INSTANT_UNIX_MICROS = 1_795_316_405_123_456n;
const INSTANT_PG_MICROS = 848_631_605_123_456n;
const ABOVE_32_BITS = 0x16_b374_d848n;

const OUTBOX_COLUMNS = [
  { name: 'id', typeOid: OID.uuid, key: true },
  { name: 'aggregate_type', typeOid: OID.text },
  { name: 'payload', typeOid: OID.jsonb },
  { name: 'created_at', typeOid: OID.timestamptz },
];

test('decodes a Begin with its final LSN above the 32-bit boundary, commit time and xid', () => {
  const message = decodePgoutput(begin(ABOVE_32_BITS, INSTANT_PG_MICROS, 742));
  assert.deepEqual(message, {
    tag: 'begin',
    finalLsn: ABOVE_32_BITS,
    commitTimeMicros: INSTANT_UNIX_MICROS,
    xid: 742,
  });
});

test('reads a Begin carrying commit time 0 as 2000-01-01T00:00:00Z', () => {
  const message = decodePgoutput(begin(1n, 0n, 1));
  assert.equal(message.tag, 'begin');
  // 946684800000 ms is Date.UTC(2000, 0, 1); pg-logical-replication's service used 946080000000,
  // seven days early.
  assert.equal(message.commitTimeMicros, 946_684_800_000_000n);
  assert.equal(
    new Date(Number(message.commitTimeMicros / 1000n)).toISOString(),
    '2000-01-01T00:00:00.000Z',
  );
});

test('reads commit times before 2000 as negative server times', () => {
  const message = decodePgoutput(begin(1n, -1n, 1));
  assert.equal(message.tag === 'begin' && message.commitTimeMicros, 946_684_799_999_999n);
});

test('reads an xid above 2^31 as unsigned', () => {
  const message = decodePgoutput(begin(1n, 0n, 0xfffffffe));
  assert.equal(message.tag === 'begin' && message.xid, 4_294_967_294);
});

test('decodes a Commit with its commit LSN, end LSN and commit time', () => {
  const message = decodePgoutput(commit(ABOVE_32_BITS, ABOVE_32_BITS + 0x38n, INSTANT_PG_MICROS));
  assert.deepEqual(message, {
    tag: 'commit',
    commitLsn: ABOVE_32_BITS,
    endLsn: ABOVE_32_BITS + 0x38n,
    commitTimeMicros: INSTANT_UNIX_MICROS,
  });
});

test('reads the largest possible LSN without losing bits', () => {
  const max = 0xffff_ffff_ffff_ffffn;
  const message = decodePgoutput(commit(max - 1n, max, 0n));
  assert.equal(message.tag === 'commit' && message.commitLsn, max - 1n);
  assert.equal(message.tag === 'commit' && message.endLsn, max);
});

test('decodes a Relation with its schema, name and columns, multi-byte names included', () => {
  const columns = [...OUTBOX_COLUMNS, { name: 'größe_水', typeOid: OID.int8 }];
  const message = decodePgoutput(relation(3_000_000_001, 'públic', 'outbox_🍣', columns));
  assert.deepEqual(message, {
    tag: 'relation',
    relation: {
      oid: 3_000_000_001,
      schema: 'públic',
      name: 'outbox_🍣',
      columns: columns.map(({ name, typeOid }) => ({ name, typeOid })),
    },
  });
});

test('decodes an Insert with text values, SQL NULL and unchanged TOAST in column order', () => {
  const message = decodePgoutput(insert(16_385, ['a', null, UNCHANGED_TOAST, '']));
  assert.deepEqual(message, {
    tag: 'insert',
    relationOid: 16_385,
    values: ['a', null, UNCHANGED_TOAST, ''],
  });
});

test('keeps multi-byte UTF-8 text values whole, measured in bytes on the wire', () => {
  const values = ['Zürich', '東京都', '🍣 + 🍺', 'naïve café'];
  const message = decodePgoutput(insert(1, values));
  assert.deepEqual(message.tag === 'insert' && message.values, values);
});

test('keeps a jsonb value with a big integer as exactly the text Postgres sent', () => {
  const payload = '{"amount": 12345678901234567890, "ratio": 0.10000000000000000001}';
  const message = decodePgoutput(insert(1, [payload]));
  assert.equal(message.tag === 'insert' && message.values[0], payload);
});

test('returns values that survive the reuse of the buffer they were read from', () => {
  const body = insert(1, ['kept']);
  const message = decodePgoutput(body);
  body.fill(0);
  assert.deepEqual(message.tag === 'insert' && message.values, ['kept']);
});

test('decodes a logical message: transactional flag, LSN, prefix and content', () => {
  const message = decodePgoutput(logicalMessage(ABOVE_32_BITS, 'outbox', '{"id":"é"}'));
  assert.deepEqual(message, {
    tag: 'message',
    transactional: true,
    lsn: lsnFromBigInt(ABOVE_32_BITS),
    prefix: 'outbox',
    content: '{"id":"é"}',
  });
  const loose = logicalMessage(1n, 'p', 'x');
  loose[1] = 0; // the flags byte: not transactional
  assert.equal((decodePgoutput(loose) as { transactional: boolean }).transactional, false);
});

test('returns Update, Delete, Truncate, Type and Origin as tag "other"', () => {
  const others: [string, Buffer][] = [
    ['U', update(1, ['old'], ['new'])],
    ['D', deleteRow(1, ['key'])],
    ['T', truncate([1, 2])],
    ['Y', type(70_000, 'public', 'mood')],
    ['O', origin(ABOVE_32_BITS, 'upstream')],
  ];
  for (const [tag, body] of others) {
    assert.deepEqual(decodePgoutput(body), { tag: 'other', type: tag }, tag);
  }
});

test('fails with a clear error on every truncation of Begin, Commit, Relation and Insert', () => {
  const messages = {
    begin: begin(ABOVE_32_BITS, INSTANT_PG_MICROS, 7),
    commit: commit(ABOVE_32_BITS, ABOVE_32_BITS + 1n, INSTANT_PG_MICROS),
    relation: relation(16_385, 'public', 'outbox', OUTBOX_COLUMNS),
    insert: insert(16_385, ['5d1e…', null, '{"a": "€"}', UNCHANGED_TOAST]),
  };
  for (const [name, full] of Object.entries(messages)) {
    assert.doesNotThrow(() => decodePgoutput(full), name);
    for (let length = 0; length < full.length; length++) {
      assert.throws(
        () => decodePgoutput(full.subarray(0, length)),
        /^Error: pgoutput (message truncated at byte \d+|string not terminated)/,
        `${name} cut to ${length} of ${full.length} bytes`,
      );
    }
  }
});

test('rejects a negative value length instead of reading backwards', () => {
  const body = new Bytes().char('I').u32(1).char('N').i16(2).char('t').i32(-3).build();
  assert.throws(() => decodePgoutput(body), /pgoutput value length -3/);
});

test('rejects an Insert without a new tuple', () => {
  const body = new Bytes().char('I').u32(1).char('K').i16(0).build();
  assert.throws(() => decodePgoutput(body), /pgoutput insert without new tuple \(got 'K'\)/);
});

test('rejects binary tuple values, which the relay never asks for', () => {
  const body = new Bytes().char('I').u32(1).char('N').i16(1).char('b').i32(1).u8(7).build();
  assert.throws(() => decodePgoutput(body), /pgoutput tuple value of unknown kind 'b'/);
});
