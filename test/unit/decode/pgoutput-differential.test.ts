/**
 * Decodes the same hand-built bytes with pg-logical-replication's parser and with ours. Where they
 * agree, each checks the other; where they differ, the difference is why we decode ourselves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
// Not exported from the package's index; the deep path is the parser the package itself uses.
import { PgoutputParser } from 'pg-logical-replication/dist/output-plugins/pgoutput/pgoutput-parser.js';
import type { Pgoutput } from 'pg-logical-replication';
import { decodePgoutput, type PgoutputMessage } from '../../../src/decode/pgoutput.ts';
import { parseTimestamptz } from '../../../src/decode/outbox-row.ts';
import { parseLsn } from '../../../src/domain/lsn.ts';
import { begin, commit, insert, OID, relation } from './pgoutput-builder.ts';

const RELATION_OID = 16_385;
const COMMIT_LSN = 0x1_0000_abcdn;
const END_LSN = 0x1_0000_ac05n;
const PG_MICROS = 848_631_605_123_456n; // 2026-11-22T03:00:05.123456Z
const COLUMNS = [
  { name: 'id', typeOid: OID.uuid, key: true },
  { name: 'aggregate_type', typeOid: OID.text },
  { name: 'aggregate_id', typeOid: OID.text },
  { name: 'payload', typeOid: OID.jsonb },
  { name: 'created_at', typeOid: OID.timestamptz },
  { name: 'note', typeOid: OID.text },
];
const ROW = {
  id: '0b7e3c1a-5f0e-4c55-9f8e-2a1d3c4b5e6f',
  aggregate_type: 'commande',
  aggregate_id: 'Zürich-東京-🍣',
  payload: '{"amount": 12345678901234567890}',
  created_at: '2026-11-22 03:00:05.123456+00',
  note: null,
};

const TRANSACTION = [
  begin(COMMIT_LSN, PG_MICROS, 742),
  relation(RELATION_OID, 'public', 'outbox', COLUMNS),
  insert(RELATION_OID, Object.values(ROW)),
  commit(COMMIT_LSN, END_LSN, PG_MICROS),
];

function decodeBoth() {
  const parser = new PgoutputParser();
  const theirs = TRANSACTION.map((body) => parser.parse(body));
  const ours = TRANSACTION.map((body) => decodePgoutput(body));
  return { theirs, ours };
}

function pick<Tag extends string, M extends { tag: string }>(messages: M[], tag: Tag) {
  const found = messages.find((message) => message.tag === tag);
  assert.ok(found, `no ${tag} message`);
  return found as Extract<M, { tag: Tag }>;
}

function lsn(text: string | null): bigint {
  assert.ok(text !== null, 'pg-logical-replication returned a null LSN');
  return parseLsn(text);
}

test('agrees with pg-logical-replication on tags, LSNs, xid and commit times', () => {
  const { theirs, ours } = decodeBoth();
  assert.deepEqual(
    ours.map((message) => message.tag),
    theirs.map((message) => message.tag),
  );
  const [theirBegin, ourBegin] = [pick(theirs, 'begin'), pick(ours, 'begin')];
  assert.equal(ourBegin.finalLsn, lsn(theirBegin.commitLsn));
  assert.equal(ourBegin.finalLsn, COMMIT_LSN);
  assert.equal(ourBegin.xid, theirBegin.xid);
  assert.equal(ourBegin.commitTimeMicros, theirBegin.commitTime);
  const [theirCommit, ourCommit] = [pick(theirs, 'commit'), pick(ours, 'commit')];
  assert.equal(ourCommit.commitLsn, lsn(theirCommit.commitLsn));
  assert.equal(ourCommit.endLsn, lsn(theirCommit.commitEndLsn));
  assert.equal(ourCommit.endLsn, END_LSN);
  assert.equal(ourCommit.commitTimeMicros, theirCommit.commitTime);
});

test('agrees with pg-logical-replication on the relation and on text column values', () => {
  const { theirs, ours } = decodeBoth();
  const theirRelation: Pgoutput.MessageRelation = pick(theirs, 'relation');
  const ourRelation = pick(ours, 'relation').relation;
  assert.equal(ourRelation.oid, theirRelation.relationOid);
  assert.equal(ourRelation.schema, theirRelation.schema);
  assert.equal(ourRelation.name, theirRelation.name);
  assert.deepEqual(
    ourRelation.columns,
    theirRelation.columns.map(({ name, typeOid }) => ({ name, typeOid })),
  );

  const theirRow = pick(theirs, 'insert').new;
  const ourInsert = pick(ours, 'insert');
  assert.equal(ourInsert.relationOid, theirRelation.relationOid);
  const ourRow = Object.fromEntries(
    ourRelation.columns.map((column, i) => [column.name, ourInsert.values[i]]),
  );
  for (const column of ['id', 'aggregate_type', 'aggregate_id', 'note'] as const) {
    assert.equal(ourRow[column], ROW[column], column);
    assert.equal(theirRow[column], ROW[column], column);
  }
});

test('keeps a jsonb big number as text where pg-logical-replication rounds it via JSON.parse', () => {
  const { theirs, ours } = decodeBoth();
  const ourPayload = pick(ours, 'insert').values[3];
  const theirPayload = pick(theirs, 'insert').new.payload as {
    amount: number;
  };
  assert.equal(ourPayload, '{"amount": 12345678901234567890}');
  assert.equal(typeof theirPayload.amount, 'number');
  assert.notEqual(String(theirPayload.amount), '12345678901234567890');
  assert.equal(BigInt(theirPayload.amount), 12345678901234567168n, 'the nearest double');
});

test('keeps timestamptz microseconds where pg-logical-replication makes a millisecond Date', () => {
  const { theirs, ours } = decodeBoth();
  const ourText = pick(ours, 'insert').values[4];
  const theirDate = pick(theirs, 'insert').new.created_at as Date;
  assert.equal(ourText, ROW.created_at);
  assert.equal(parseTimestamptz(ROW.created_at), 1_795_316_405_123_456n);
  assert.ok(theirDate instanceof Date);
  assert.equal(
    theirDate.toISOString(),
    '2026-11-22T03:00:05.123Z',
    'the 456 microseconds are gone',
  );
});

test('reads an xid above 2^31 as unsigned where pg-logical-replication reads it signed', () => {
  const body = begin(COMMIT_LSN, PG_MICROS, 0xfffffffe);
  const theirs = new PgoutputParser().parse(body) as Pgoutput.MessageBegin;
  const ours = decodePgoutput(body) as Extract<PgoutputMessage, { tag: 'begin' }>;
  assert.equal(ours.xid, 4_294_967_294);
  assert.equal(theirs.xid, -2);
});
