import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../../src/config/load.ts';
import { beginStatements } from '../../../src/db/outbox-reader.ts';
import { createSlotCommand, snapshotSlotName } from '../../../src/db/snapshot.ts';
import { RelayError } from '../../../src/domain/errors.ts';

test('exports the snapshot with the option list on PostgreSQL 15+ and the keyword on 14', () => {
  assert.equal(
    createSlotCommand('s_snap_1', 150000),
    `CREATE_REPLICATION_SLOT "s_snap_1" TEMPORARY LOGICAL pgoutput (SNAPSHOT 'export')`,
  );
  assert.equal(
    createSlotCommand('s_snap_1', 140012),
    'CREATE_REPLICATION_SLOT "s_snap_1" TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT',
  );
});

test('names the temporary slot after the slot and the process, within 63 bytes', () => {
  assert.equal(snapshotSlotName('outbox_relay', 4242), 'outbox_relay_snap_4242');
  const long = snapshotSlotName('x'.repeat(63), 4194304);
  assert.equal(long.length, 63);
  assert.ok(long.endsWith('_snap_4194304'));
});

test('imports the snapshot as the first statement of a repeatable-read transaction', () => {
  assert.deepEqual(beginStatements(), ['BEGIN']);
  assert.deepEqual(beginStatements('00000003-00000002-1'), [
    'BEGIN ISOLATION LEVEL REPEATABLE READ',
    "SET TRANSACTION SNAPSHOT '00000003-00000002-1'",
  ]);
  assert.throws(() => beginStatements("1'; DROP TABLE outbox; --"), /not a snapshot name/);
});

test('refuses RELAY_SNAPSHOT=initial with exactly-once delivery, naming both settings and the way out', () => {
  const env = {
    RELAY_PG_URL: 'postgres://relay@db.internal:5432/app',
    RELAY_KAFKA_BROKERS: 'kafka-1:9092',
    RELAY_SNAPSHOT: 'initial',
  };
  assert.equal(loadConfig({ env }).config.snapshot, 'initial');
  assert.equal(loadConfig({ env: { ...env, RELAY_SNAPSHOT: undefined } }).config.snapshot, 'never');
  assert.throws(
    () => loadConfig({ env: { ...env, RELAY_DELIVERY: 'exactly-once' } }),
    (error: unknown) =>
      error instanceof RelayError &&
      error.code === 'CONFIG_INVALID' &&
      /RELAY_SNAPSHOT=initial.*RELAY_DELIVERY=exactly-once.*migrate --snapshot/.test(error.message),
  );
});
