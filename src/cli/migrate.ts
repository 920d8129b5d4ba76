/** `outbox-relay migrate`: creates the outbox table, its publication and the slot. */
import { Command } from 'commander';
import { createSlotWithSnapshot, type SnapshotResult } from '../admin/snapshot.ts';
import { snapshotWithExactlyOnce } from '../config/schema.ts';
import { encoderFrom, routerFrom } from '../pipeline/create.ts';
import { createLogger } from '../ops/logger.ts';
import { createKafkaSink } from '../publish/kafka.ts';
import { kafkaClientOptions } from '../publish/kafka-security.ts';
import {
  ensurePublication,
  loadMigrations,
  migrate,
  ownsOutboxTable,
  type MigrationResult,
  type MigrationTarget,
} from '../db/migrator.ts';
import { isRelayTable, outboxMapping } from '../config/outbox-mapping.ts';
import { MIGRATIONS_DIR } from '../db/paths.ts';
import { openDb } from '../db/connect.ts';
import { enableSlotFailover, serverTimeline, slotActivePid, slotFailover } from '../db/slots.ts';
import type { Db } from '../db/client.ts';
import type { RelayConfig } from '../config/schema.ts';
import { errorMessage, RelayError } from '../domain/errors.ts';
import { formatLsn } from '../domain/lsn.ts';
import { ensureSlot, lostSlotError, slotHistoryReason } from '../source/slot.ts';
import { addSettingFlags, configFromFlags, EXIT, reportError } from './common.ts';

/** `--no-slot` sets `slot` to false. */
type MigrateOptions = { readonly json?: true; readonly slot: boolean; readonly snapshot?: true };

export function migrateCommand(): Command {
  const command = new Command('migrate')
    .description(
      'Apply the numbered SQL migrations (outbox table, publication), then create the replication slot if missing, so that no event written from now on is missed. Safe to run again.',
    )
    .option('--json', 'print the result as JSON')
    .option('--no-slot', 'do not create the replication slot')
    .option(
      '--snapshot',
      'when the slot is missing, first publish the rows already in the outbox (each with the header snapshot: true), then create the slot exactly where they end (see README "Rows that exist before the slot"); needs Kafka',
    );
  addSettingFlags(command, ['pgUrl', 'kafkaBrokers', 'outboxTable', 'publication', 'slot']);
  return command.action(async (options: MigrateOptions) => {
    process.exitCode = await runMigrate(options).catch(reportError);
  });
}

async function runMigrate(options: MigrateOptions): Promise<number> {
  const snapshot = options.snapshot === true && options.slot !== false;
  const { config } = configFromFlags(options, snapshot ? [] : ['kafkaBrokers']);
  if (snapshot && config.delivery === 'exactly-once')
    throw new RelayError(
      'CONFIG_INVALID',
      snapshotWithExactlyOnce('migrate --snapshot', 'or run migrate without --snapshot'),
    );
  const target = {
    schema: config.outboxSchema,
    table: config.outboxTable,
    publication: config.publication,
  };
  const db = await openDb(config.pgUrl, 'migrate');
  try {
    const result = await migrateTable(db, config, target);
    let snapshotResult: SnapshotResult | null = null;
    const createWithSnapshot = async () => {
      snapshotResult = await withSnapshot(db, config);
      return snapshotResult.consistentPoint;
    };
    const slot =
      options.slot === false
        ? null
        : await ensureSlot(
            db,
            config.slot,
            true,
            () => refuseAfterPromotion(config),
            snapshot ? createWithSnapshot : undefined,
          );
    const snapshotted = snapshotResult as SnapshotResult | null;
    const found = slot ? await slotFailover(db, config.slot) : null;
    const turnedOn = found === false ? await turnOnFailover(db, config) : null;
    const failover = turnedOn === null ? found : turnedOn.ok;
    const summary = {
      ...result,
      slot: config.slot,
      slotCreated: slot?.created ?? false,
      slotFailover: failover,
      ...(turnedOn === null ? {} : { slotFailoverTurnedOn: turnedOn.ok }),
      ...(turnedOn?.ok === false ? { slotFailoverError: turnedOn.error } : {}),
      ...(snapshotted ? snapshotSummary(snapshotted) : {}),
    };
    if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      for (const name of result.applied) process.stdout.write(`applied ${name}\n`);
      if (result.foreignTable) {
        const table = `${target.schema}.${target.table}`;
        process.stdout.write(
          `table ${table}: not the relay's (RELAY_OUTBOX_LAYOUT=${config.outboxLayout}); left as it is\n` +
            `publication ${target.publication}: ${result.publicationCreated ? 'created' : 'exists'}\n`,
        );
      } else if (result.applied.length === 0) process.stdout.write('migrations: up to date\n');
      if (slot)
        process.stdout.write(`slot ${config.slot}: ${slot.created ? 'created' : 'exists'}\n`);
      if (snapshotted) process.stdout.write(`${snapshotText(snapshotted)}\n`);
      else if (snapshot && slot) process.stdout.write('snapshot: none (the slot exists)\n');
      if (turnedOn?.ok) process.stdout.write(`slot ${config.slot}: failover turned on\n`);
      if (slot) process.stdout.write(`${failoverText(config.slot, failover)}\n`);
      if (turnedOn?.ok === false) process.stderr.write(`${turnedOn.error}\n`);
    }
    return EXIT.ok;
  } finally {
    await db.end();
  }
}

/** The snapshot with a Kafka producer of its own, ended after it. */
async function withSnapshot(db: Db, config: RelayConfig): Promise<SnapshotResult> {
  const sink = createKafkaSink({
    ...kafkaClientOptions(config),
    partitions: config.topicPartitions,
    replicationFactor: config.topicReplicationFactor,
    logger: createLogger('warn', process.stderr),
  });
  await sink.connect();
  try {
    return await createSlotWithSnapshot({
      pgUrl: config.pgUrl,
      db,
      slot: config.slot,
      table: { schema: config.outboxSchema, table: config.outboxTable },
      sink,
      encoder: encoderFrom(config),
      router: routerFrom(config),
      batchMaxEvents: config.batchMaxEvents,
      batchMaxBytes: config.batchMaxBytes,
    });
  } finally {
    await sink.disconnect().catch(() => undefined);
  }
}

function snapshotSummary(result: SnapshotResult) {
  const { selected, sent, skipped, order } = result.published;
  return {
    snapshot: {
      selected,
      sent,
      skipped,
      order,
      consistentPoint: formatLsn(result.consistentPoint),
    },
  };
}

function snapshotText(result: SnapshotResult): string {
  const { sent, skipped } = result.published;
  return `snapshot: ${sent} events published (${skipped} skipped), the slot streams from ${formatLsn(result.consistentPoint)}`;
}

type TableResult = MigrationResult & { foreignTable: boolean; publicationCreated?: boolean };

/**
 * The relay's migrations when the table is the relay's (or missing, with the relay layout);
 * otherwise only the publication: a table of another layout, or one the relay did not create.
 */
async function migrateTable(
  db: Db,
  config: RelayConfig,
  target: MigrationTarget,
): Promise<TableResult> {
  const relayLayout = isRelayTable(outboxMapping(config));
  if (relayLayout && (await ownsOutboxTable(db, target))) {
    const result = await migrate(db, await loadMigrations(MIGRATIONS_DIR, target), target);
    return { ...result, foreignTable: false };
  }
  const publicationCreated = await ensurePublication(db, target);
  return { applied: [], alreadyApplied: [], foreignTable: true, publicationCreated };
}

/**
 * A missing slot is not created on a promoted or restored server (timeline above 1): a relay may
 * have streamed from it before, and a new slot would skip every event since (run says the same).
 */
async function refuseAfterPromotion(config: RelayConfig): Promise<void> {
  const timeline = await serverTimeline(config.pgUrl, config.slot);
  const reason = slotHistoryReason({ timeline, kafkaKey: null, topic: config.checkpointTopic });
  if (reason !== null) throw lostSlotError(config.slot, reason);
}

/** Bound on ALTER_REPLICATION_SLOT, which waits for a relay that took the slot meanwhile. */
const ALTER_TIMEOUT_MS = 10_000;

/** 17+: an existing slot made without failover gets it, unless a relay holds the slot. */
async function turnOnFailover(
  db: Db,
  config: RelayConfig,
): Promise<{ ok: true } | { ok: false; error: string }> {
  const refused = (why: string) => ({
    ok: false as const,
    error: `slot ${config.slot}: could not turn failover on (${why}); stop the relay, run migrate again, then start the relay`,
  });
  const holder = await slotActivePid(db, config.slot);
  if (holder !== null) return refused(`a relay holds the slot: process ${holder}`);
  try {
    await enableSlotFailover(config.pgUrl, config.slot, ALTER_TIMEOUT_MS);
    return { ok: true };
  } catch (error) {
    return refused(errorMessage(error));
  }
}

function failoverText(slot: string, failover: boolean | null): string {
  if (failover === null)
    return 'failover slots need PostgreSQL 17: nothing changes; after a failover to a standby, see README "Postgres failover"';
  if (failover)
    return `slot ${slot}: failover = true (a standby with sync_replication_slots keeps it)`;
  return `slot ${slot}: failover = false: a standby will not keep it (see README "Failover")`;
}
