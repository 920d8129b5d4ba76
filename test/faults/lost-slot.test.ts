/**
 * A relay pointed at a promoted standby that lacks the slot (before PostgreSQL 17 slots do not
 * follow a failover) must not create a new slot at the current position: that would skip every
 * event between the old slot's position and now. It stops and names the recovery.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  localPostgresControl,
  removeLocalPostgres,
  startLocalPostgres,
} from '../../scripts/services/postgres.ts';
import type { LocalPostgresState } from '../../scripts/services/types.ts';
import { dropOutbox, prepareOutbox, services, uniqueNames } from '../support/fixtures.ts';
import { coldCopy, promote, sql, urlOf } from '../support/promote.ts';
import { relayEnv, runCli, spawnRelay } from '../support/relay.ts';
import { stopRelay } from '../support/scenario.ts';

test('on a promoted standby without the slot, the relay and migrate refuse to create it and name the recovery; offsets reset --recreate then lets it start', async (t) => {
  const { kafkaBrokers } = await services();
  const names = uniqueNames('lostslot');
  const primary = await startLocalPostgres();
  let copy: LocalPostgresState | null = null;
  try {
    await prepareOutbox(urlOf(primary.port), names);
    await localPostgresControl(primary).stop();
    const copyDir = await coldCopy(primary);
    copy = await promote(primary, copyDir);
    const copyUrl = urlOf(copy.port);
    // The standby never had the primary's logical slot.
    await sql(copyUrl, 'SELECT pg_drop_replication_slot($1)', [names.slot]);
    const env = relayEnv(copyUrl, kafkaBrokers, names, { RELAY_CREATE_SLOT: 'true' });

    const relay = spawnRelay(env);
    const code = await relay.exited;
    const said = JSON.stringify(relay.logs);
    t.diagnostic(said.slice(0, 1500));
    assert.equal(code, 1);
    assert.match(said, /does not exist, and the relay streamed from this database before/);
    assert.match(said, /timeline 2/);
    assert.match(said, /outbox-relay offsets reset --recreate --yes/);
    assert.match(said, /outbox-relay replay --from/);
    const slots = await sql(copyUrl, 'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [
      names.slot,
    ]);
    assert.equal(slots.length, 0, 'no slot was created');

    const migrated = await runCli(['migrate'], env);
    assert.equal(migrated.code, 1, 'migrate refuses too');
    assert.match(
      migrated.stderr,
      /does not exist, and the relay streamed from this database before/,
    );
    assert.match(migrated.stderr, /outbox-relay offsets reset --recreate --yes/);
    const stillNone = await sql(
      copyUrl,
      'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1',
      [names.slot],
    );
    assert.equal(stillNone.length, 0, 'migrate created no slot');

    const reset = await runCli(['offsets', 'reset', '--recreate', '--yes'], env);
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(reset.stdout, /created slot .* \(it did not exist\)/);

    const again = spawnRelay(env);
    try {
      await again.waitForLog('streaming', 60_000);
    } finally {
      await stopRelay(again);
    }
  } finally {
    if (copy) {
      await dropOutbox(urlOf(copy.port), names).catch(() => undefined);
      await removeLocalPostgres(copy).catch(() => undefined);
      await rm(join(copy.dir, '..'), { recursive: true, force: true });
    }
    await removeLocalPostgres(primary).catch(() => undefined);
  }
});
