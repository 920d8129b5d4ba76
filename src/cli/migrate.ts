/** `outbox-relay migrate`: creates the outbox table, its publication and the slot. */
import { Command } from 'commander';
import { loadMigrations, migrate } from '../db/migrator.ts';
import { MIGRATIONS_DIR } from '../db/paths.ts';
import { createDbClient } from '../db/client.ts';
import { slotFailover } from '../db/slots.ts';
import { ensureSlot } from '../source/slot.ts';
import { addSettingFlags, configFromFlags, EXIT, reportError } from './common.ts';

/** `--no-slot` sets `slot` to false. */
type MigrateOptions = { readonly json?: true; readonly slot: boolean };

export function migrateCommand(): Command {
  const command = new Command('migrate')
    .description(
      'Apply the numbered SQL migrations (outbox table, publication), then create the replication slot if missing, so that no event written from now on is missed. Safe to run again.',
    )
    .option('--json', 'print the result as JSON')
    .option('--no-slot', 'do not create the replication slot');
  addSettingFlags(command, ['pgUrl', 'outboxTable', 'publication', 'slot']);
  return command.action(async (options: MigrateOptions) => {
    process.exitCode = await runMigrate(options).catch(reportError);
  });
}

async function runMigrate(options: MigrateOptions): Promise<number> {
  const { config } = configFromFlags(options, ['kafkaBrokers']);
  const target = {
    schema: config.outboxSchema,
    table: config.outboxTable,
    publication: config.publication,
  };
  const db = createDbClient(config.pgUrl, 'migrate');
  await db.connect();
  try {
    const result = await migrate(db, await loadMigrations(MIGRATIONS_DIR, target), target);
    const slot = options.slot === false ? null : await ensureSlot(db, config.slot, true);
    const failover = slot ? await slotFailover(db, config.slot) : null;
    const summary = {
      ...result,
      slot: config.slot,
      slotCreated: slot?.created ?? false,
      slotFailover: failover,
    };
    if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      for (const name of result.applied) process.stdout.write(`applied ${name}\n`);
      if (result.applied.length === 0) process.stdout.write('migrations: up to date\n');
      if (slot)
        process.stdout.write(`slot ${config.slot}: ${slot.created ? 'created' : 'exists'}\n`);
      if (slot) process.stdout.write(`${failoverText(config.slot, failover)}\n`);
    }
    return EXIT.ok;
  } finally {
    await db.end();
  }
}

function failoverText(slot: string, failover: boolean | null): string {
  if (failover === null)
    return 'failover slots need PostgreSQL 17: nothing changes; after a failover to a standby, see README "Postgres failover"';
  if (failover)
    return `slot ${slot}: failover = true (a standby with sync_replication_slots keeps it)`;
  return (
    `slot ${slot}: failover = false; with the relay stopped, turn it on over a replication connection: ` +
    `ALTER_REPLICATION_SLOT ${slot} (FAILOVER true)`
  );
}
