/**
 * What a first deployment gets wrong, checked against the real servers: each check is a small
 * function that returns a finding with the fix (exact SQL, setting or command). Nothing here
 * changes anything on PostgreSQL or Kafka, and a server that cannot be reached is a finding, not
 * a crash: the checks that need it are reported as not checked.
 */
import { redactUrl } from '../config/redact.ts';
import type { RelayConfig } from '../config/schema.ts';
import { createDbClient, type Db } from '../db/client.ts';
import { quoteIdent, quoteLiteral, SQL } from '../db/sql.ts';
import {
  readSlotInfo,
  slotFailover,
  slotUsage,
  walSenderUsage,
  type SlotInfoRow,
} from '../db/slots.ts';
import { commitOrderSupport } from '../db/outbox-reader.ts';
import { RelayError } from '../domain/errors.ts';
import { parseLsn } from '../domain/lsn.ts';
import { registryClientFrom, type RegistryClient } from '../encode/registry-client.ts';
import { checkConfiguredSchemas, describeProblems } from '../encode/schema-check.ts';
import { createKafkaInspector, type KafkaInspector } from '../publish/kafka-inspect.ts';
import { topicPattern } from '../route/topic-template.ts';
import type { TopicPartitions } from '../publish/kafka-inspect.ts';
import type { Logger } from '../ops/logger.ts';
import { kafkaClientOptions } from '../publish/kafka-security.ts';
import { explainCertificate, resolveHost, withDb } from '../db/connect.ts';
import { hostUrl } from '../db/hosts.ts';
import { hostOf, splitHosts } from '../domain/pg-hosts.ts';
import { failoverReadiness, type PrimaryFacts, type StandbyFacts } from './failover-readiness.ts';
import { invalidatedSlotError, slotInvalidation } from '../source/slot.ts';

/** ok ✓, warn ! (works, but look), fail ✗ (the relay will not work), skip - (not checked). */
export type FindingStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Finding {
  readonly name: string;
  readonly status: FindingStatus;
  readonly detail: string;
  /** For warn and fail: what to run or set. */
  readonly fix?: string;
}

export interface DoctorOptions {
  readonly logger: Logger;
  /** Bound on each connection attempt and query. */
  readonly timeoutMs: number;
}

type Outcome = Omit<Finding, 'name'>;

interface Check<C> {
  readonly name: string;
  readonly run: (context: C) => Promise<Outcome>;
}

interface PgContext {
  readonly db: Db;
  readonly config: RelayConfig;
  /** Why no host of a multi-host RELAY_PG_URL fit target_session_attrs, if none did. */
  readonly unresolved: unknown;
  readonly timeoutMs: number;
}

interface KafkaContext {
  readonly kafka: KafkaInspector;
  readonly config: RelayConfig;
}

const ok = (detail: string): Outcome => ({ status: 'ok', detail });
const warn = (detail: string, fix: string): Outcome => ({ status: 'warn', detail, fix });
const fail = (detail: string, fix: string): Outcome => ({ status: 'fail', detail, fix });
const skip = (detail: string): Outcome => ({ status: 'skip', detail });

/** Without a cap on retained WAL, a slot this far behind is worth a look before the disk is. */
const UNLIMITED_LAG_WARNING_BYTES = 1n << 30n;
const MIB = 1n << 20n;
const MIGRATE = 'outbox-relay migrate';

/** Queries only the doctor asks; the relay's own are in src/db/sql.ts. */
const DOCTOR_SQL = {
  server: `SELECT current_user AS role, current_database() AS database,
                  current_setting('server_version') AS version`,
  role: `SELECT current_user AS role, rolreplication, rolsuper
           FROM pg_roles WHERE rolname = current_user`,
  tableSelect: `SELECT current_user AS role, to_regclass($1) IS NOT NULL AS found,
                       has_table_privilege(to_regclass($1), 'SELECT') AS can_select`,
  walKeepSizeMb: `SELECT setting::bigint::text AS mb FROM pg_settings
                   WHERE name = 'max_slot_wal_keep_size'`,
  /** 18+; no row before. In seconds. */
  idleSlotTimeout: `SELECT current_setting('server_version_num')::int / 10000 AS major,
                           (SELECT setting::int FROM pg_settings
                             WHERE name = 'idle_replication_slot_timeout') AS seconds`,
} as const;

type SlotRow = SlotInfoRow;

export async function runDoctor(config: RelayConfig, options: DoctorOptions): Promise<Finding[]> {
  const [postgres, kafka, registry] = await Promise.all([
    postgresFindings(config, options),
    kafkaFindings(config, options),
    registryFindings(config, options),
  ]);
  return [...postgres, ...kafka, ...registry];
}

// --- Schema registry ------------------------------------------------------------------------

async function registryFindings(config: RelayConfig, options: DoctorOptions): Promise<Finding[]> {
  const registry = registryClientFrom(config, options.timeoutMs);
  if (!registry) {
    return [{ name: 'schema registry', ...skip('no schema registry configured') }];
  }
  let subjects: string[];
  try {
    subjects = await registry.subjects();
  } catch (error) {
    const fix =
      error instanceof RelayError && error.hint
        ? error.hint
        : 'Check RELAY_SCHEMA_REGISTRY_URL and that the registry is up.';
    return [
      { name: 'schema registry', ...fail(messageOf(error), fix) },
      { name: 'schema compatibility', ...skip('the registry did not answer') },
    ];
  }
  const reachable: Finding = {
    name: 'schema registry',
    ...ok(`${registry.url} answered: ${subjects.length} subject(s)`),
  };
  return [reachable, { name: 'schema compatibility', ...(await compatibility(config, registry)) }];
}

async function compatibility(config: RelayConfig, registry: RegistryClient): Promise<Outcome> {
  if (!config.schemaDir) return skip('no RELAY_SCHEMA_DIR: every event goes in the envelope');
  try {
    const reports = await checkConfiguredSchemas(config, registry);
    const problems = reports.flatMap(describeProblems);
    if (problems.length > 0) {
      return fail(
        problems.join('\n'),
        'Evolve the schemas compatibly (`outbox-relay schemas check` for the details); the relay refuses to start with them.',
      );
    }
    const compared = reports.filter((r) => r.versions > 0).length;
    return ok(
      `${reports.length} schema(s) ${config.schemaCompatibility} compatible (${compared} compared with registered versions)`,
    );
  } catch (error) {
    return fail(messageOf(error), 'Fix the schema files or the registry settings named above.');
  }
}

async function postgresFindings(config: RelayConfig, options: DoctorOptions): Promise<Finding[]> {
  const unresolved = await resolveHost(config.pgUrl).then(
    () => null,
    (error: unknown) => error,
  );
  const db = createDbClient(config.pgUrl, 'doctor', { timeoutMs: options.timeoutMs });
  // A connection lost mid-check also fails the query in flight: that check reports it.
  db.on('error', (error) => options.logger.debug({ err: error }, 'postgres connection error'));
  try {
    return await runGroup(POSTGRES_CHECKS, {
      db,
      config,
      unresolved,
      timeoutMs: options.timeoutMs,
    });
  } finally {
    await db.end().catch(() => undefined);
  }
}

async function kafkaFindings(config: RelayConfig, options: DoctorOptions): Promise<Finding[]> {
  const kafka = createKafkaInspector({
    ...kafkaClientOptions(config),
    logger: options.logger,
    timeoutMs: options.timeoutMs,
  });
  try {
    return await runGroup(KAFKA_CHECKS, { kafka, config });
  } finally {
    await kafka.disconnect();
  }
}

/** Runs the checks in order; when the first (the connection) fails, the rest are not run. */
async function runGroup<C>(checks: readonly Check<C>[], context: C): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const check of checks) {
    const connection = findings[0];
    const outcome =
      connection?.status === 'fail'
        ? skip(`not checked: no connection (see "${connection.name}")`)
        : await outcomeOf(check, context);
    findings.push({ name: check.name, ...outcome });
  }
  return findings;
}

async function outcomeOf<C>(check: Check<C>, context: C): Promise<Outcome> {
  try {
    return await check.run(context);
  } catch (error) {
    return fail(
      `the check could not run: ${messageOf(error)}`,
      error instanceof RelayError && error.hint
        ? error.hint
        : 'Fix the error above (often a missing privilege or a timeout) and run doctor again.',
    );
  }
}

// --- PostgreSQL -----------------------------------------------------------------------------

async function postgresConnection({ db, config, unresolved }: PgContext): Promise<Outcome> {
  const target = redactUrl(config.pgUrl);
  if (unresolved) {
    return fail(
      messageOf(unresolved),
      'Check the hosts and target_session_attrs in RELAY_PG_URL; during a failover, run doctor again once a standby is promoted.',
    );
  }
  try {
    await db.connect();
  } catch (error) {
    return fail(
      `cannot connect to ${target}: ${messageOf(error)}`,
      explainCertificate(error) ??
        'Check RELAY_PG_URL (host, port, database, user, password) and that PostgreSQL accepts connections from here (listen_addresses, pg_hba.conf).',
    );
  }
  const { rows } = await db.query<{ role: string; database: string; version: string }>(
    DOCTOR_SQL.server,
  );
  const server = rows[0];
  return ok(`connected to ${target} as "${server?.role}", PostgreSQL ${server?.version}`);
}

async function walLevel({ db }: PgContext): Promise<Outcome> {
  const { rows } = await db.query<{ wal_level: string }>(SQL.walLevel);
  const level = rows[0]?.wal_level;
  if (level === 'logical') return ok('wal_level = logical');
  return fail(
    `wal_level = ${level}; logical replication needs logical`,
    "ALTER SYSTEM SET wal_level = 'logical'; then restart PostgreSQL (a reload is not enough). On a managed service set its parameter instead (RDS: rds.logical_replication = 1).",
  );
}

async function replicationSlots({ db, config }: PgContext): Promise<Outcome> {
  const usage = await slotUsage(db);
  const ours = await slotRow(db, config.slot);
  const detail = `${usage.used} of max_replication_slots = ${usage.max} in use`;
  if (ours) return ok(`${detail}, "${config.slot}" among them`);
  if (usage.used < usage.max) return ok(`${detail}; one is free for "${config.slot}"`);
  return fail(
    `${detail}: none is free for "${config.slot}"`,
    `Drop slots nothing uses (SELECT slot_name, active FROM pg_replication_slots; then SELECT pg_drop_replication_slot('<name>');), or ALTER SYSTEM SET max_replication_slots = ${usage.max + 1}; and restart PostgreSQL.`,
  );
}

async function walSenders({ db, config }: PgContext): Promise<Outcome> {
  const usage = await walSenderUsage(db);
  const ours = await slotRow(db, config.slot);
  const detail = `${usage.used} of max_wal_senders = ${usage.max} in use`;
  // A relay streaming from our slot already holds its sender.
  if (ours?.active) return ok(`${detail}, one by the relay streaming from "${config.slot}"`);
  if (usage.used < usage.max) return ok(`${detail}; one is free for the relay`);
  return fail(
    `${detail}: none is free for the relay's replication connection`,
    `ALTER SYSTEM SET max_wal_senders = ${usage.max + 1}; and restart PostgreSQL (or stop a replication client that is no longer needed).`,
  );
}

async function replicationRole({ db }: PgContext): Promise<Outcome> {
  const { rows } = await db.query<{ role: string; rolreplication: boolean; rolsuper: boolean }>(
    DOCTOR_SQL.role,
  );
  const row = rows[0];
  const role = row?.role ?? '?';
  if (row?.rolsuper) return ok(`role "${role}" is a superuser`);
  if (row?.rolreplication) return ok(`role "${role}" has the REPLICATION attribute`);
  return fail(
    `role "${role}" has neither REPLICATION nor superuser: it cannot stream from a slot`,
    `ALTER ROLE ${quoteIdent(role)} REPLICATION;  (as a superuser; on RDS: GRANT rds_replication TO ${quoteIdent(role)};)`,
  );
}

async function outboxSelect({ db, config }: PgContext): Promise<Outcome> {
  const table = outboxTable(config);
  const { rows } = await db.query<{ role: string; found: boolean; can_select: boolean | null }>(
    DOCTOR_SQL.tableSelect,
    [table],
  );
  const row = rows[0];
  if (!row?.found) {
    return fail(
      `table ${table} does not exist`,
      `${MIGRATE} creates it; or set RELAY_OUTBOX_SCHEMA / RELAY_OUTBOX_TABLE to your outbox table.`,
    );
  }
  if (!row.can_select) {
    return fail(
      `role "${row.role}" may not SELECT from ${table}`,
      `GRANT SELECT ON ${table} TO ${quoteIdent(row.role)};`,
    );
  }
  return ok(`role "${row.role}" may SELECT from ${table}`);
}

async function publication({ db, config }: PgContext): Promise<Outcome> {
  const name = config.publication;
  const table = outboxTable(config);
  const found = await db.query<{ pubinsert: boolean }>(SQL.publicationExists, [name]);
  const pub = found.rows[0];
  if (!pub) {
    return fail(
      `publication "${name}" does not exist`,
      `${MIGRATE} creates it with a new outbox table; for an existing one: CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${table} WITH (publish = 'insert');`,
    );
  }
  if (!pub.pubinsert) {
    return fail(
      `publication "${name}" does not publish inserts`,
      `ALTER PUBLICATION ${quoteIdent(name)} SET (publish = 'insert');`,
    );
  }
  if (!(await publishesTable(db, config))) {
    return fail(
      `publication "${name}" does not include ${table}`,
      `ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE ${table};  (or set RELAY_PUBLICATION / RELAY_OUTBOX_TABLE to the pair you use)`,
    );
  }
  return ok(`publication "${name}" publishes the inserts of ${table}`);
}

async function publishesTable(db: Db, config: RelayConfig): Promise<boolean> {
  const { rows } = await db.query<{ schemaname: string; tablename: string }>(
    SQL.publicationTables,
    [config.publication],
  );
  return rows.some(
    (r) => r.schemaname === config.outboxSchema && r.tablename === config.outboxTable,
  );
}

/** What `replay` needs to send each aggregate's events in commit order (see its refusal). */
async function replayOrder({ db, config }: PgContext): Promise<Outcome> {
  const table = outboxTable(config);
  const support = await commitOrderSupport(db, {
    schema: config.outboxSchema,
    table: config.outboxTable,
  });
  if (!support.tableFound) return skip(`no table ${table} (see "outbox table access")`);
  const problems: string[] = [];
  const fixes: string[] = [];
  if (!support.columns) {
    problems.push(`${table} has no tx_id and tx_seq columns (migration 0003)`);
    fixes.push(`${MIGRATE} adds them.`);
  }
  if (!support.trackCommitTimestamp) {
    problems.push('track_commit_timestamp is off');
    fixes.push(
      'ALTER SYSTEM SET track_commit_timestamp = on; then restart PostgreSQL (on a managed service, set its parameter).',
    );
  }
  if (problems.length === 0) {
    return ok(
      `track_commit_timestamp = on and ${table} has tx_id, tx_seq: replay sends each aggregate's events in commit order`,
    );
  }
  return warn(
    `${problems.join(', and ')}: replay cannot know the commit order, and refuses to replay two events or more of one aggregate unless given --order created-at (the transactions' start order)`,
    fixes.join(' '),
  );
}

async function slot({ db, config }: PgContext): Promise<Outcome> {
  const name = config.slot;
  const row = await slotRow(db, name);
  if (!row) return missingSlot(config);
  const drop = `SELECT pg_drop_replication_slot(${quoteLiteral(name)});`;
  if (row.slot_type !== 'logical' || row.plugin !== 'pgoutput') {
    return fail(
      `slot "${name}" is ${row.slot_type}/${row.plugin ?? '-'}, not logical/pgoutput`,
      `Set RELAY_SLOT to a new name; or, if nothing uses that slot: ${drop} then ${MIGRATE}`,
    );
  }
  const { rows } = await db.query<{ database: string }>(DOCTOR_SQL.server);
  if (row.database !== rows[0]?.database) {
    return fail(
      `slot "${name}" belongs to database "${row.database}", not "${rows[0]?.database}"`,
      `Point RELAY_PG_URL at database "${row.database}", or set RELAY_SLOT to a new name (a slot serves one database).`,
    );
  }
  return slotWalStatus(row, name, drop);
}

function missingSlot(config: RelayConfig): Outcome {
  const detail = `slot "${config.slot}" does not exist`;
  const fix = `${MIGRATE} creates it now; only events written after that are relayed.`;
  if (!config.createSlot) return fail(`${detail}, and with RELAY_CREATE_SLOT=false run stops`, fix);
  return warn(`${detail}; run creates it at start, missing the events written before then`, fix);
}

function slotWalStatus(row: SlotRow, name: string, drop: string): Outcome {
  const invalidation = slotInvalidation(row);
  if (invalidation !== null) {
    const { message } = invalidatedSlotError(name, invalidation);
    return fail(
      message,
      `With no relay running: outbox-relay offsets reset --recreate --yes (or ${drop} then ${MIGRATE}); the events written since the relay last confirmed are not relayed: send them with outbox-relay replay --from <time>.`,
    );
  }
  if (row.wal_status === 'unreserved') {
    return warn(
      `slot "${name}" is about to lose WAL it needs (wal_status unreserved)`,
      "Start the relay now so that it catches up; or raise the cap: ALTER SYSTEM SET max_slot_wal_keep_size = '<larger>'; SELECT pg_reload_conf();",
    );
  }
  const use = row.active ? `in use by pid ${row.active_pid}` : 'not in use';
  return ok(`slot "${name}": logical/pgoutput, wal_status ${row.wal_status}, ${use}`);
}

async function slotLag({ db, config }: PgContext): Promise<Outcome> {
  const row = await slotRow(db, config.slot);
  if (!row?.confirmed_flush_lsn) return skip(`no logical slot "${config.slot}" to measure`);
  const current = await db.query<{ lsn: string }>(SQL.currentWalLsn);
  const keep = await db.query<{ mb: string }>(DOCTOR_SQL.walKeepSizeMb);
  const lag = parseLsn(current.rows[0]?.lsn ?? '0/0') - parseLsn(row.confirmed_flush_lsn);
  return judgeLag(lag > 0n ? lag : 0n, Number(keep.rows[0]?.mb ?? -1));
}

/** The slot's lag (WAL PostgreSQL keeps for it) against max_slot_wal_keep_size (MB, -1: none). */
export function judgeLag(lagBytes: bigint, keepMb: number): Outcome {
  const behind = `the slot is ${formatBytes(lagBytes)} behind the WAL`;
  if (keepMb < 0) {
    const detail = `${behind}; max_slot_wal_keep_size = -1 (no cap)`;
    if (lagBytes < UNLIMITED_LAG_WARNING_BYTES) return ok(detail);
    return warn(
      `${detail}: PostgreSQL keeps all of it, until the disk is full if the relay stays down`,
      "Start the relay, or find why it is behind (/readyz, its logs). To bound the risk: ALTER SYSTEM SET max_slot_wal_keep_size = '<size>'; SELECT pg_reload_conf();  (past it, the slot is lost instead of the disk)",
    );
  }
  const limit = BigInt(keepMb) * MIB;
  const detail = `${behind}, of max_slot_wal_keep_size = ${formatBytes(limit)}`;
  if (lagBytes * 2n < limit) return ok(detail);
  return warn(
    `${detail}: past half; at the cap PostgreSQL removes the WAL and the slot is lost`,
    `Start the relay, or find why it is behind (/readyz, its logs); or raise the cap: ALTER SYSTEM SET max_slot_wal_keep_size = '${keepMb * 2}MB'; SELECT pg_reload_conf();`,
  );
}

/**
 * Without a cap, a relay that is down or stuck makes PostgreSQL keep WAL until the disk is full,
 * which stops the database, not just the relay. With one, the slot is invalidated instead (the
 * relay stops with PG_SLOT_INVALIDATED, and the gap is sent with replay).
 */
async function walKeepSize({ db }: PgContext): Promise<Outcome> {
  const { rows } = await db.query<{ mb: string }>(DOCTOR_SQL.walKeepSizeMb);
  return judgeWalKeepSize(Number(rows[0]?.mb ?? -1));
}

export function judgeWalKeepSize(keepMb: number): Outcome {
  if (keepMb >= 0) {
    return ok(
      `max_slot_wal_keep_size = ${formatBytes(BigInt(keepMb) * MIB)}: past it the slot is invalidated rather than the disk filled`,
    );
  }
  return warn(
    'max_slot_wal_keep_size = -1 (unlimited): while the relay is down or stuck, PostgreSQL keeps every WAL segment the slot needs, until the disk is full and the database stops',
    "Cap it below the free space of the WAL disk, with room for the longest relay outage you plan for: ALTER SYSTEM SET max_slot_wal_keep_size = '<size, e.g. 50GB>'; SELECT pg_reload_conf();  (on a managed service, set its parameter). Past the cap the slot is invalidated: the relay stops with PG_SLOT_INVALIDATED, and outbox-relay offsets reset --recreate --yes, then outbox-relay replay --from <time>, recover. Watch outbox_relay_slot_safe_wal_size_bytes.",
  );
}

/** 18+: a slot unused for idle_replication_slot_timeout is invalidated, a relay outage included. */
async function idleSlotTimeout({ db }: PgContext): Promise<Outcome> {
  const { rows } = await db.query<{ major: number; seconds: number | null }>(
    DOCTOR_SQL.idleSlotTimeout,
  );
  return judgeIdleSlotTimeout(Number(rows[0]?.major ?? 0), rows[0]?.seconds ?? null);
}

export function judgeIdleSlotTimeout(major: number, seconds: number | null): Outcome {
  if (major < 18 || seconds === null) {
    return ok(
      `PostgreSQL ${major} has no idle_replication_slot_timeout: slots are not invalidated for idleness`,
    );
  }
  if (seconds <= 0)
    return ok('idle_replication_slot_timeout = 0: slots are not invalidated for idleness');
  return warn(
    `idle_replication_slot_timeout = ${seconds}s: if the relay is down that long (an outage, a long maintenance), PostgreSQL invalidates the slot at a checkpoint, and the relay stops with PG_SLOT_INVALIDATED`,
    'ALTER SYSTEM SET idle_replication_slot_timeout = 0; SELECT pg_reload_conf();  (or a value longer than any relay outage you plan for; max_slot_wal_keep_size bounds the disk instead). After an invalidation: outbox-relay offsets reset --recreate --yes, then outbox-relay replay --from <time>.',
  );
}

async function slotRow(db: Db, name: string): Promise<SlotRow | undefined> {
  return readSlotInfo(db, name);
}

function outboxTable(config: RelayConfig): string {
  return `${quoteIdent(config.outboxSchema)}.${quoteIdent(config.outboxTable)}`;
}

const POSTGRES_CHECKS: readonly Check<PgContext>[] = [
  { name: 'postgres', run: postgresConnection },
  { name: 'wal_level', run: walLevel },
  { name: 'replication slots', run: replicationSlots },
  { name: 'wal senders', run: walSenders },
  { name: 'replication role', run: replicationRole },
  { name: 'outbox table access', run: outboxSelect },
  { name: 'publication', run: publication },
  { name: 'replay order', run: replayOrder },
  { name: 'slot', run: slot },
  { name: 'slot lag', run: slotLag },
  { name: 'wal keep size', run: walKeepSize },
  { name: 'idle slot timeout', run: idleSlotTimeout },
  { name: 'failover', run: failover },
];

// --- Failover -------------------------------------------------------------------------------

const FAILOVER_SQL = {
  primary: `SELECT current_setting('server_version_num')::int / 10000 AS major,
                   coalesce(current_setting('synchronized_standby_slots', true), '') AS standby_slots,
                   coalesce((SELECT array_agg(slot_name::text ORDER BY slot_name)
                               FROM pg_replication_slots WHERE slot_type = 'physical'), '{}') AS physical`,
  standbySettings: `SELECT name, setting FROM pg_settings
                     WHERE name IN ('sync_replication_slots', 'hot_standby_feedback',
                                    'primary_slot_name', 'primary_conninfo')`,
  standbySlot: `SELECT (to_jsonb(s) ->> 'synced')::boolean AS synced, temporary
                  FROM pg_replication_slots s WHERE slot_name = $1`,
  inRecovery: 'SELECT pg_is_in_recovery() AS standby',
} as const;

/**
 * Whether the slot would survive a failover: the primary's side here, and each standby that a
 * multi-host RELAY_PG_URL names (the hosts in recovery).
 */
async function failover({ db, config, timeoutMs }: PgContext): Promise<Outcome> {
  const { rows } = await db.query<{ major: number; standby_slots: string; physical: string[] }>(
    FAILOVER_SQL.primary,
  );
  const row = rows[0];
  const major = Number(row?.major ?? 0);
  const primary: PrimaryFacts = {
    major,
    slotFailover: major >= 17 ? await slotFailover(db, config.slot) : null,
    synchronizedStandbySlots: row?.standby_slots ?? '',
    physicalSlots: row?.physical ?? [],
  };
  const standbys = major >= 17 ? await standbyFacts(config, timeoutMs) : [];
  return failoverReadiness(config.slot, primary, standbys);
}

async function standbyFacts(config: RelayConfig, timeoutMs: number): Promise<StandbyFacts[]> {
  const current = hostUrl(config.pgUrl);
  const others = splitHosts(config.pgUrl).urls.filter((url) => url !== current);
  const facts: StandbyFacts[] = [];
  for (const url of others) {
    const found = await oneStandby(url, config.slot, timeoutMs).catch(() => null);
    if (found) facts.push(found);
  }
  return facts;
}

/** The facts of a host in recovery, or null for a host that is not a standby. */
async function oneStandby(url: string, slot: string, timeoutMs: number) {
  return withDb(
    url,
    'doctor',
    async (db): Promise<StandbyFacts | null> => {
      const recovery = await db.query<{ standby: boolean }>(FAILOVER_SQL.inRecovery);
      if (!recovery.rows[0]?.standby) return null;
      const settings = await db.query<{ name: string; setting: string }>(
        FAILOVER_SQL.standbySettings,
      );
      const value = (name: string) => settings.rows.find((r) => r.name === name)?.setting;
      const copy = await db.query<{ synced: boolean | null; temporary: boolean }>(
        FAILOVER_SQL.standbySlot,
        [slot],
      );
      const synced = copy.rows[0];
      return {
        host: hostOf(url),
        syncReplicationSlots: value('sync_replication_slots') === 'on',
        hotStandbyFeedback: value('hot_standby_feedback') === 'on',
        primarySlotName: value('primary_slot_name') ?? '',
        primaryConninfo: value('primary_conninfo') ?? null,
        slotSynced: synced ? synced.synced === true && !synced.temporary : null,
      };
    },
    { timeoutMs },
  );
}

// --- Kafka ----------------------------------------------------------------------------------

async function kafkaConnection({ kafka, config }: KafkaContext): Promise<Outcome> {
  try {
    const cluster = await kafka.ping();
    return ok(
      `${config.kafkaBrokers.join(',')} answered: ${cluster.brokers} broker(s), cluster ${cluster.clusterId}`,
    );
  } catch (error) {
    const hint = error instanceof RelayError ? error.hint : undefined;
    return fail(messageOf(error), hint ?? 'Check RELAY_KAFKA_BROKERS.');
  }
}

async function topicPartitions({ kafka, config }: KafkaContext): Promise<Outcome> {
  const pattern = topicPattern(config.topicTemplate);
  const ownTopics = new Set([config.deadLetterTopic, config.checkpointTopic]);
  const topics = await kafka.describeTopics((t) => pattern.test(t) && !ownTopics.has(t));
  return judgePartitions(topics, config.topicTemplate, config.topicPartitions);
}

export function judgePartitions(
  topics: readonly TopicPartitions[],
  template: string,
  expected: number,
): Outcome {
  const setting = `RELAY_TOPIC_PARTITIONS = ${expected}`;
  if (topics.length === 0)
    return ok(`no topic matches ${template} yet; the relay creates each with ${setting}`);
  const differ = topics.filter((t) => t.partitions !== expected);
  if (differ.length === 0)
    return ok(`${topics.length} topic(s) match ${template}, each with ${setting} partitions`);
  return warn(
    `${differ.length} of ${topics.length} topic(s) matching ${template} differ from ${setting}: ${listTopics(differ)}`,
    'Nothing breaks: the relay uses existing topics as they are, and RELAY_TOPIC_PARTITIONS only sizes new ones; set it to match if new topics should be alike. Do not add partitions to a topic in use: keys move to other partitions and per-key order breaks.',
  );
}

function listTopics(topics: readonly TopicPartitions[]): string {
  const shown = topics.slice(0, 10).map((t) => `${t.topic} (${t.partitions})`);
  const more = topics.length > shown.length ? `, and ${topics.length - shown.length} more` : '';
  return shown.join(', ') + more;
}

const KAFKA_CHECKS: readonly Check<KafkaContext>[] = [
  { name: 'kafka', run: kafkaConnection },
  { name: 'topic partitions', run: topicPartitions },
];

// --- helpers --------------------------------------------------------------------------------

function messageOf(error: unknown): string {
  // Node reports a refused dual-stack connect as an AggregateError without a message.
  if (error instanceof AggregateError && !error.message)
    return error.errors.map(messageOf).join('; ');
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

function formatBytes(bytes: bigint): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
