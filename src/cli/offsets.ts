/** `outbox-relay offsets show|reset`: where the slot is, and moving it forward on request. */
import { Command } from 'commander';
import type { LoadedConfig } from '../config/load.ts';
import { RelayError } from '../domain/errors.ts';
import { formatLsn, parseLsn, type Lsn } from '../domain/lsn.ts';
import { createLogger } from '../ops/logger.ts';
import {
  applyReset,
  createSlot,
  isoMicros,
  lagBytes,
  lagInTime,
  planReset,
  readCheckpoint,
  checkpointIdentity,
  readSlotStatus,
  type CheckpointRead,
  type EventCount,
  type LagTime,
  type PendingTransaction,
  type ResetPlan,
  type ResetTarget,
  type SlotStatus,
} from '../admin/offsets.ts';
import { createKafkaSink } from '../publish/kafka.ts';
import type { ServerIdentity } from '../domain/server-identity.ts';
import { addSettingFlags, configFromFlags, EXIT, reportError } from './common.ts';
import { kafkaClientOptions } from '../publish/kafka-security.ts';
import { createDbClient, type Db, type DbClient } from '../db/client.ts';
import { resolveHost } from '../db/connect.ts';
import { slotExists } from '../db/slots.ts';

/** Most pgoutput rows a dry run decodes to count skipped events; beyond it, "at least". */
const COUNT_MAX_ROWS = 100_000;

type ShowOptions = { readonly json?: true; readonly peek?: true };

/** `--no-count` sets `count` to false. */
type ResetOptions = {
  readonly toLsn?: string;
  readonly toTime?: string;
  readonly toNow?: true;
  readonly recreate?: true;
  readonly yes?: true;
  readonly count: boolean;
  readonly json?: true;
};

const SHOW_HELP = `
Lag in time: Postgres keeps no commit time per LSN, so it is shown only where it is measured:
  flush_lag  a relay is attached: pg_stat_replication.flush_lag of its walsender
  peek       no relay attached and --peek: the age of the oldest outbox transaction the slot has
             not confirmed, read from its commit record by decoding the slot (changes nothing;
             costs a pass over the WAL up to that transaction)
  unknown    otherwise
safe_wal_size (PostgreSQL 13+) is null when max_slot_wal_keep_size is -1: no limit.
With RELAY_DELIVERY=exactly-once it also reads the checkpoint (key:
checkpoint/<system id>/<database>/<slot>) from RELAY_CHECKPOINT_TOPIC with read_committed
isolation; only then are Kafka settings needed.

Exit codes:
  0  shown
  1  failed: the slot does not exist (run "outbox-relay migrate"), or Postgres/Kafka unreachable
  2  invalid configuration
`;

const RESET_HELP = `
Targets (exactly one):
  --to-lsn X/Y     that LSN, as Postgres prints it.
  --to-time TIME   before the first outbox transaction that committed at or after TIME (ISO 8601
                   with a zone: 2026-11-02T10:00:00Z). Found by decoding the slot forward and
                   reading commit times from the WAL's commit records (track_commit_timestamp is
                   not needed). Never skips a transaction committed at or after TIME; concurrent
                   commits can sit slightly out of time order in the WAL, so a few committed just
                   before TIME may be kept.
  --to-now         the server's current WAL position (pg_current_wal_insert_lsn(): past every
                   commit made so far, asynchronous ones too, once the server has flushed it).
  --recreate       drop the slot and create it again at the current position; also the way out
                   for a slot whose WAL was removed (wal_status lost). DATA LOSS: events written
                   between the old position and now are never relayed; send them with
                   "outbox-relay replay".

Events the slot skips are not sent to Kafka; "outbox-relay replay" sends them from the table.
A slot cannot go back: to send events again, use "outbox-relay replay".
Refuses while a relay streams from the slot: stop every relay (standbys too) first.
Without --yes nothing changes: it prints the plan (from, to, WAL bytes, and the outbox events
skipped, counted by decoding the slot, up to ${COUNT_MAX_ROWS} rows, unless --no-count) and exits 4.

Exit codes:
  0  moved or recreated, or already at the target
  1  failed or refused: slot missing, relay attached, target behind the slot or beyond the WAL,
     slot lost; the message says what to do
  2  invalid usage or configuration: no target or several, malformed LSN or time, time in the future
  4  confirmation needed: the plan was printed and nothing changed (add --yes)
`;

export function offsetsCommand(): Command {
  return new Command('offsets')
    .description("Show the replication slot's position and lag, or move it forward.")
    .addCommand(showCommand())
    .addCommand(resetCommand());
}

function showCommand(): Command {
  const command = new Command('show')
    .description(
      'Print the slot: confirmed and restart LSN, WAL status, lag in bytes and (where known) in time, the attached relay, and the exactly-once checkpoint.',
    )
    .option('--json', 'print one JSON object')
    .option('--peek', 'with no relay attached, decode the slot to find the oldest pending commit');
  addSettingFlags(command, ['pgUrl', 'slot', 'publication', 'kafkaBrokers', 'delivery']);
  command.addHelpText('after', SHOW_HELP);
  return command.action(async (options: ShowOptions) => {
    process.exitCode = await runShow(options).catch(reportError);
  });
}

function resetCommand(): Command {
  const command = new Command('reset')
    .description(
      'Move the slot forward with pg_replication_slot_advance (or recreate it). Events it skips are not relayed. Prints the plan and changes nothing without --yes.',
    )
    .option('--to-lsn <lsn>', 'move to this LSN (X/Y)')
    .option('--to-time <time>', 'move to the first outbox commit at or after this ISO 8601 time')
    .option('--to-now', "move to the server's current WAL position")
    .option(
      '--recreate',
      'drop and recreate the slot at the current position (data loss: see below)',
    )
    .option('--yes', 'do it (without: print the plan, exit 4)')
    .option('--no-count', 'do not decode the slot to count the events skipped')
    .option('--json', 'print one JSON object');
  addSettingFlags(command, ['pgUrl', 'slot', 'publication']);
  command.addHelpText('after', RESET_HELP);
  return command.action(async (options: ResetOptions) => {
    process.exitCode = await runReset(options).catch(reportError);
  });
}

async function withDb<T>(pgUrl: string, work: (db: DbClient) => Promise<T>): Promise<T> {
  await resolveHost(pgUrl); // several hosts: the one that fits target_session_attrs
  const db = createDbClient(pgUrl, 'offsets');
  try {
    await db.connect();
  } catch (error) {
    throw new RelayError('PG_CONNECT', `cannot connect to PostgreSQL: ${String(error)}`, {
      cause: error,
      hint: 'Check RELAY_PG_URL (or --pg-url) and that the server is up.',
    });
  }
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

// ---- show

async function runShow(options: ShowOptions): Promise<number> {
  const loaded = configFromFlags(options, ['kafkaBrokers']);
  const { config } = loaded;
  const exactlyOnce = config.delivery === 'exactly-once';
  const { status, lag, identity } = await withDb(config.pgUrl, async (db) => {
    const status = await readSlotStatus(db, config.slot);
    const peek = options.peek === true;
    return {
      status,
      lag: await lagInTime(db, status, { peek, publication: config.publication }),
      identity: exactlyOnce ? await checkpointIdentity(db) : null,
    };
  });
  const checkpoint = identity ? await checkpointOf(loaded, identity) : null;
  const view = showView(status, lag, checkpoint);
  process.stdout.write(options.json ? `${JSON.stringify(view)}\n` : showText(view));
  return EXIT.ok;
}

async function checkpointOf(
  { config, sources }: LoadedConfig,
  identity: ServerIdentity,
): Promise<CheckpointRead> {
  if (!sources.kafkaBrokers) {
    throw new RelayError(
      'CONFIG_INVALID',
      'RELAY_KAFKA_BROKERS is required with RELAY_DELIVERY=exactly-once, to read the checkpoint',
      { hint: 'Set RELAY_KAFKA_BROKERS or pass --brokers.' },
    );
  }
  // Logs go to stderr so that --json output stays one object; kafkajs' retry noise is hidden
  // unless a log level was asked for.
  const level = sources.logLevel === 'default' ? 'error' : config.logLevel;
  const sink = createKafkaSink({
    ...kafkaClientOptions(config),
    partitions: config.topicPartitions,
    replicationFactor: config.topicReplicationFactor,
    logger: createLogger(level, process.stderr),
  });
  try {
    return await readCheckpoint(sink, config.checkpointTopic, config.slot, identity);
  } finally {
    await sink.disconnect();
  }
}

function showView(status: SlotStatus, lag: LagTime, checkpoint: CheckpointRead | null) {
  const bytes = lagBytes(status);
  const walsender = status.walsender;
  return {
    slot: status.slot,
    slotType: status.slotType,
    plugin: status.plugin,
    confirmedFlushLsn: lsnText(status.confirmedFlushLsn),
    restartLsn: lsnText(status.restartLsn),
    currentWalLsn: formatLsn(status.currentWalLsn),
    walStatus: status.walStatus,
    ...(status.hasSafeWalSize ? { safeWalSizeBytes: status.safeWalSizeBytes } : {}),
    lagBytes: bytes === null ? null : Number(bytes),
    lagTime: {
      seconds: lag.seconds,
      source: lag.source,
      note: lag.note,
      oldestPending: lag.oldestPending && pendingView(lag.oldestPending),
    },
    relay: {
      attached: status.active,
      pid: status.activePid,
      applicationName: walsender?.applicationName ?? null,
      clientAddr: walsender?.clientAddr ?? null,
      state: walsender?.state ?? null,
      flushLsn: lsnText(walsender?.flushLsn ?? null),
    },
    ...(checkpoint
      ? {
          checkpoint: {
            topic: checkpoint.topic,
            key: checkpoint.key,
            topicExists: checkpoint.topicExists,
            commitLsn: lsnText(checkpoint.checkpoint?.commitLsn ?? null),
            index: checkpoint.checkpoint?.index ?? null,
          },
        }
      : {}),
  };
}

type ShowView = ReturnType<typeof showView>;

function pendingView(tx: PendingTransaction) {
  return {
    commitLsn: formatLsn(tx.commitLsn),
    commitTime: isoMicros(tx.commitTimeMicros),
    events: tx.events,
  };
}

function showText(view: ShowView): string {
  const lines = [
    `slot ${view.slot} (${view.slotType}, ${view.plugin ?? '-'})`,
    row('confirmed flush', view.confirmedFlushLsn ?? '-'),
    row('restart', view.restartLsn ?? '-'),
    row('server WAL', view.currentWalLsn),
    row('WAL status', walStatusText(view)),
    row('lag', view.lagBytes === null ? 'unknown' : bytesText(view.lagBytes)),
    row('lag in time', lagTimeText(view.lagTime)),
    row('relay', relayText(view.relay)),
  ];
  if (view.checkpoint) {
    const { topic, key, topicExists, commitLsn, index } = view.checkpoint;
    const found =
      commitLsn !== null
        ? `commit ${commitLsn}, event #${index} of that transaction`
        : topicExists
          ? 'none yet'
          : 'none yet (the topic does not exist)';
    lines.push(row('checkpoint', `${found} (topic ${topic}, key ${key}, read_committed)`));
  }
  return `${lines.join('\n')}\n`;
}

function row(label: string, value: string): string {
  return `  ${label.padEnd(18)}${value}`;
}

function walStatusText(view: ShowView): string {
  const status = view.walStatus ?? 'unknown (server before PostgreSQL 13)';
  if (!('safeWalSizeBytes' in view)) return status;
  const safe = view.safeWalSizeBytes;
  const size = safe === null || safe === undefined ? 'no limit' : bytesText(safe);
  const lost =
    view.walStatus === 'lost' ? '; the slot cannot stream: offsets reset --recreate' : '';
  return `${status}, safe_wal_size ${size}${lost}`;
}

function lagTimeText(lag: ShowView['lagTime']): string {
  const value = lag.seconds === null ? 'unknown' : `${lag.seconds.toFixed(1)} s`;
  const pending = lag.oldestPending
    ? ` (committed ${lag.oldestPending.commitTime} at ${lag.oldestPending.commitLsn})`
    : '';
  return `${value} [${lag.source}]: ${lag.note}${pending}`;
}

function relayText(relay: ShowView['relay']): string {
  if (!relay.attached) return 'not attached';
  const parts = [`attached: pid ${relay.pid}`];
  if (relay.applicationName) parts.push(`application_name ${relay.applicationName}`);
  parts.push(`client ${relay.clientAddr ?? 'local socket'}`);
  if (relay.state) parts.push(`state ${relay.state}`);
  return parts.join(', ');
}

// ---- reset

/**
 * --recreate of a slot that is gone (a failover to a standby without it): created at the
 * current position, which the relay refuses to do by itself; events before it need a replay.
 */
async function createMissingSlot(
  db: Db,
  slot: string,
  confirmed: boolean,
  json: boolean,
): Promise<number> {
  const lsn = confirmed ? formatLsn(await createSlot(db, slot)) : null;
  const text = lsn
    ? `created slot ${slot} at ${lsn} (it did not exist); send what was written before with "outbox-relay replay --from <time>"\n`
    : `slot ${slot} does not exist: it would be created at the current position; events written before are not relayed (use replay)\n`;
  process.stdout.write(
    json ? `${JSON.stringify({ slot, action: 'create', applied: confirmed, lsn })}\n` : text,
  );
  if (confirmed) return EXIT.ok;
  process.stderr.write('outbox-relay: nothing changed; run again with --yes to do it\n');
  return EXIT.confirmationNeeded;
}

async function runReset(options: ResetOptions): Promise<number> {
  const target = parseTarget(options);
  const { config } = configFromFlags(options, ['kafkaBrokers']);
  const confirmed = options.yes === true;
  return withDb(config.pgUrl, async (db) => {
    if (target.kind === 'recreate' && !(await slotExists(db, config.slot)))
      return createMissingSlot(db, config.slot, confirmed, options.json === true);
    const status = await readSlotStatus(db, config.slot);
    const plan = await planReset(db, status, target, {
      publication: config.publication,
      // With --yes the count would only delay the reset; a time target counts anyway.
      countEvents: !confirmed && options.count !== false,
      maxRows: COUNT_MAX_ROWS,
      flushTimeoutMs: 10_000,
    });
    const print = (applied: boolean, now: Lsn | null) =>
      process.stdout.write(
        options.json
          ? `${JSON.stringify(resetView(plan, applied, now))}\n`
          : resetText(plan, applied, now),
      );
    if (plan.from === plan.to && target.kind !== 'recreate') {
      print(false, plan.from);
      return EXIT.ok;
    }
    if (!confirmed) {
      print(false, null);
      process.stderr.write('outbox-relay: nothing changed; run again with --yes to do it\n');
      return EXIT.confirmationNeeded;
    }
    print(true, await applyReset(db, plan));
    return EXIT.ok;
  });
}

function parseTarget(options: ResetOptions): ResetTarget {
  const given = (['toLsn', 'toTime', 'toNow', 'recreate'] as const).filter(
    (k) => options[k] !== undefined,
  );
  if (given.length !== 1) {
    throw usage(
      `choose exactly one target: --to-lsn, --to-time, --to-now or --recreate (got ${given.length})`,
    );
  }
  if (typeof options.toLsn === 'string') return { kind: 'lsn', lsn: parseLsnOption(options.toLsn) };
  if (typeof options.toTime === 'string') return { kind: 'time', time: parseTime(options.toTime) };
  return options.toNow ? { kind: 'now' } : { kind: 'recreate' };
}

function parseLsnOption(text: string): Lsn {
  try {
    return parseLsn(text);
  } catch {
    throw usage(`--to-lsn: not an LSN: "${text}" (expected X/Y in hex, as Postgres prints it)`);
  }
}

/** ISO 8601 with an explicit zone: a time without one would depend on the session's zone. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)$/i;

function parseTime(text: string): string {
  if (!ISO_TIME.test(text.trim()) || Number.isNaN(Date.parse(text.trim().replace(' ', 'T')))) {
    throw usage(`--to-time: "${text}" is not an ISO 8601 time with a zone (2026-11-02T10:00:00Z)`);
  }
  return text.trim();
}

function usage(message: string): RelayError {
  return new RelayError('CONFIG_INVALID', message, {
    hint: 'See "outbox-relay offsets reset --help".',
  });
}

function resetView(plan: ResetPlan, applied: boolean, now: Lsn | null) {
  const from = plan.from;
  return {
    slot: plan.slot,
    action: plan.target.kind === 'recreate' ? 'recreate' : 'advance',
    target:
      plan.target.kind === 'lsn' ? { kind: 'lsn', lsn: formatLsn(plan.target.lsn) } : plan.target,
    applied,
    from: lsnText(from),
    to: formatLsn(plan.to),
    /** Where the slot is now: after the reset, or unchanged. */
    confirmedFlushLsn: lsnText(now ?? from),
    walBytes: from === null ? null : Number(plan.to - from),
    skippedEvents: plan.skipped,
    firstKept: plan.firstKept && pendingView(plan.firstKept),
  };
}

function resetText(plan: ResetPlan, applied: boolean, now: Lsn | null): string {
  const view = resetView(plan, applied, now);
  const wal = view.walBytes === null ? '' : `, skipping ${bytesText(view.walBytes)} of WAL`;
  if (plan.target.kind === 'recreate') {
    const head = applied
      ? `recreated slot ${view.slot} at ${view.confirmedFlushLsn} (was at ${view.from ?? '-'})`
      : `would drop slot ${view.slot} (at ${view.from ?? '-'}) and create it again at the current position, about ${view.to}${wal}`;
    return `${head}\n${skippedText(view.skippedEvents)}${RECREATE_LOSS}\n`;
  }
  if (!applied && view.from === view.to && view.walBytes === 0)
    return `slot ${view.slot} is already at ${view.to}: nothing to do\n${keptText(view.firstKept)}${BEHIND_NOTE}\n`;
  const head = applied
    ? `moved slot ${view.slot} from ${view.from} to ${view.confirmedFlushLsn}${wal}`
    : `would move slot ${view.slot} from ${view.from} to ${view.to}${wal}`;
  return `${head}\n${skippedText(view.skippedEvents)}${keptText(view.firstKept)}${ADVANCE_LOSS}\n`;
}

const BEHIND_NOTE =
  '  events before the slot\'s position are sent again only by "outbox-relay replay"';
const ADVANCE_LOSS =
  '  skipped events are not relayed; "outbox-relay replay" sends them from the outbox table';
const RECREATE_LOSS =
  '  DATA LOSS: events written between the old position and the new slot are never relayed;\n' +
  '  send them with "outbox-relay replay"';

function skippedText(skipped: EventCount | null): string {
  if (!skipped) return '  outbox events skipped: not counted\n';
  const count = skipped.exact ? `${skipped.count}` : `at least ${skipped.count}`;
  return `  outbox events skipped: ${count}\n`;
}

function keptText(first: ReturnType<typeof pendingView> | null): string {
  if (!first) return '';
  return `  first kept: transaction committed ${first.commitTime} at ${first.commitLsn} (${first.events} events)\n`;
}

// ---- formatting

function lsnText(lsn: Lsn | null): string | null {
  return lsn === null ? null : formatLsn(lsn);
}

function bytesText(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = '';
  for (const next of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  return unit ? `${bytes} bytes (${value.toFixed(1)} ${unit})` : `${bytes} bytes`;
}
