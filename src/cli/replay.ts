/** `outbox-relay replay`: publishes again events still in the outbox table. */
import { Command, Option } from 'commander';
import {
  connectReader,
  REPLAY_ORDERS,
  type OutboxSelection,
  type SelectorName,
} from '../db/outbox-reader.ts';
import { RelayError } from '../domain/errors.ts';
import { resolveHost } from '../db/connect.ts';
import { encoderFrom, mappingFrom, routerFrom } from '../pipeline/create.ts';
import { createLogger } from '../ops/logger.ts';
import {
  replay,
  type ReplayHooks,
  type ReplayProgress,
  type ReplayRequest,
  type ReplaySummary,
} from '../admin/replay.ts';
import { createKafkaSink, type KafkaSink } from '../publish/kafka.ts';
import { topicNameProblem } from '../route/index.ts';
import { addSettingFlags, configFromFlags, EXIT, reportError } from './common.ts';
import { kafkaClientOptions } from '../publish/kafka-security.ts';

/** Each selector's flag; every one given narrows the selection. */
const SELECTOR_FLAGS: Readonly<Record<SelectorName, string>> = {
  from: '--from',
  to: '--to',
  idFrom: '--id-from',
  idTo: '--id-to',
  ids: '--ids',
  aggregateType: '--aggregate-type',
  aggregateId: '--aggregate-id',
  eventType: '--event-type',
};
const SELECTOR_LIST = Object.values(SELECTOR_FLAGS).join(', ');

/** The selectors (by SELECTOR_FLAGS) and the other options, as commander hands them over. */
export type ReplayOptions = { readonly [name in SelectorName]?: string } & {
  readonly all?: true;
  readonly topic?: string;
  readonly dryRun?: true;
  readonly rate?: string;
  readonly order?: string;
  readonly json?: true;
};

const HELP = `
Selectors combine: an event is replayed when it matches every one given. Times are anything
PostgreSQL reads as a timestamptz (ISO 8601 such as 2026-05-01T12:00:00Z; without an offset,
UTC). Events are sent with the router's topic, key and headers, plus the headers replay=true and
replayed_at=<ISO time>. It reads the table with plain SELECTs and uses its own Kafka producer: it
never touches the slot or the publication, and is safe to run beside a live relay. Only rows
still in the table can be replayed (prune deletes them after RELAY_RETENTION).

Order: events are sent in the order their transactions committed (by commit time, then
transaction id, then their place in the transaction), so each aggregate's events in commit order.
That needs the tx_id and tx_seq columns ("outbox-relay migrate") and track_commit_timestamp = on
in PostgreSQL. Without them, replay refuses (exit 2) a selection in which an aggregate has two
events or more, unless given --order created-at: (created_at, id) order, the transactions' start
times, in which overlapping transactions can come out of commit order.

Examples:
  outbox-relay replay --aggregate-id order-42 --dry-run
  outbox-relay replay --from 2026-05-01T00:00:00Z --to 2026-05-02T00:00:00Z --rate 500
  outbox-relay replay --ids 0b9e...,7c1d... --topic orders.replayed --json

Exit codes:
  0  done (rows that cannot become events are skipped, each named on stderr)
  1  failure of Kafka or PostgreSQL; the message says how far it got and how to go on
  2  invalid usage or configuration (no selector, a bad option or setting), or commit order is
     not known for a selection that needs it (see Order)
`;

export function replayCommand(): Command {
  const command = new Command('replay')
    .description(
      'Publish again events that are still in the outbox table, to their own topics (or --topic), Avro-encoded as the relay does. Needs at least one selector, or --all.',
    )
    .option('--from <time>', 'events created at or after this time')
    .option('--to <time>', 'events created before this time')
    .option('--id-from <id>', 'events whose id is at least this one')
    .option('--id-to <id>', 'events whose id is at most this one')
    .option('--ids <id,...>', 'these events, ids separated by commas')
    .option('--aggregate-type <type>', 'events of this aggregate type')
    .option('--aggregate-id <id>', 'events of this aggregate')
    .option('--event-type <type>', 'events of this event type')
    .option('--all', 'every event in the table (instead of selectors)')
    .option('--topic <name>', 'send every event to this topic instead of its own')
    .option(
      '--dry-run',
      'print each event that would be sent (id, topic, key, event type) and the count; send nothing',
    )
    .option('--rate <events/s>', 'send at most this many events per second')
    .addOption(
      new Option(
        '--order <order>',
        'commit: the order the transactions committed in; created-at: (created_at, id), the order before migration 0003 (see Order below)',
      )
        .choices(REPLAY_ORDERS)
        .default('commit'),
    )
    .option(
      '--json',
      'print a summary object {selected, sent, skipped, topics, dryRun, order} for scripts',
    );
  addSettingFlags(command, ['pgUrl', 'kafkaBrokers', 'outboxTable', 'topicTemplate', 'logLevel']);
  command.addHelpText('after', HELP);
  // Usage errors (an unknown option, a missing value) exit 2, as documented, not commander's 1.
  command.exitOverride((error) => process.exit(error.exitCode === 0 ? EXIT.ok : EXIT.config));
  return command.action(async (options: ReplayOptions) => {
    process.exitCode = await runReplay(options).catch(reportError);
  });
}

async function runReplay(options: ReplayOptions): Promise<number> {
  const request = replayRequest(options);
  const { config, sources } = configFromFlags(options, request.dryRun ? ['kafkaBrokers'] : []);
  await resolveHost(config.pgUrl); // several hosts: the one that fits target_session_attrs
  const router = routerFrom(config);
  const encoder = encoderFrom(config);
  // Info logs (such as "created topics") would drown a terminal's output unless asked for.
  const level = sources.logLevel === 'default' ? 'warn' : config.logLevel;
  const logger = createLogger(level, process.stderr);
  const db = await connectReader(config.pgUrl, 'outbox-relay replay');
  let sink: KafkaSink | null = null;
  const progress = process.stderr.isTTY ? progressLine(request.dryRun) : null;
  try {
    if (!request.dryRun) {
      sink = createKafkaSink({
        ...kafkaClientOptions(config),
        partitions: config.topicPartitions,
        replicationFactor: config.topicReplicationFactor,
        logger,
      });
      await sink.connect();
    }
    const deps = {
      table: {
        schema: config.outboxSchema,
        table: config.outboxTable,
        mapping: mappingFrom(config),
      },
      db,
      sink,
      encoder,
      router,
      batchMaxEvents: config.batchMaxEvents,
      batchMaxBytes: config.batchMaxBytes,
      hooks: outputHooks(options.json === true, request.dryRun, progress),
    };
    const summary = await replay(deps, request);
    progress?.clear();
    printSummary(summary, options.json === true);
    return EXIT.ok;
  } finally {
    progress?.clear();
    await sink?.disconnect();
    await db.end();
  }
}

/** The request the options describe, or a usage error (exit 2) that says what to give. */
export function replayRequest(options: ReplayOptions): ReplayRequest {
  const selection = selectionFrom(options);
  const given = Object.keys(selection);
  if (given.length === 0 && options.all !== true) {
    throw usage(
      `replay needs a selection: give at least one of ${SELECTOR_LIST}, or --all for every event in the table`,
    );
  }
  if (given.length > 0 && options.all === true) {
    throw usage(`--all replays every event; it cannot be combined with ${SELECTOR_LIST}`);
  }
  return {
    selection,
    topic: overrideTopic(options.topic),
    dryRun: options.dryRun === true,
    rate: rateFrom(options.rate),
    order: options.order === 'created-at' ? 'created-at' : 'commit',
  };
}

function selectionFrom(options: ReplayOptions): OutboxSelection {
  const selection: Record<string, string | string[]> = {};
  for (const [name, flag] of Object.entries(SELECTOR_FLAGS) as [SelectorName, string][]) {
    const raw = options[name];
    if (typeof raw !== 'string') continue;
    const value = raw.trim();
    if (value === '') throw usage(`${flag} is empty`);
    selection[name] = name === 'ids' ? idList(value) : value;
  }
  return selection;
}

function idList(value: string): string[] {
  const ids = value
    .split(',')
    .map((id) => id.trim())
    .filter(Boolean);
  if (ids.length === 0) throw usage('--ids holds no id');
  return ids;
}

function overrideTopic(topic: unknown): string | undefined {
  if (typeof topic !== 'string') return undefined;
  const problem = topicNameProblem(topic);
  if (problem) throw usage(`--topic "${topic}" is not a legal Kafka topic name: ${problem}`);
  return topic;
}

function rateFrom(rate: unknown): number | undefined {
  if (typeof rate !== 'string') return undefined;
  const value = Number(rate);
  if (rate.trim() === '' || !Number.isFinite(value) || value <= 0) {
    throw usage(`--rate must be a positive number of events per second; got "${rate}"`);
  }
  return value;
}

function usage(message: string): RelayError {
  return new RelayError('CONFIG_INVALID', message, {
    hint: 'See "outbox-relay replay --help".',
  });
}

interface ProgressLine {
  update(progress: ReplayProgress): void;
  clear(): void;
}

function outputHooks(json: boolean, dryRun: boolean, progress: ProgressLine | null): ReplayHooks {
  return {
    event: (e) => {
      if (dryRun && !json) process.stdout.write(`${e.id}\t${e.topic}\t${e.key}\t${e.eventType}\n`);
    },
    skipped: (row) => {
      progress?.clear();
      process.stderr.write(
        `outbox-relay: skipped ${row.id}: ${row.reason}: ${row.detail} (the relay dead-letters it)\n`,
      );
    },
    progress: (p) => progress?.update(p),
  };
}

/** One line on a terminal's stderr, rewritten at most five times a second. */
function progressLine(dryRun: boolean): ProgressLine {
  let shownAt = 0;
  let shown = false;
  return {
    update(p) {
      const now = Date.now();
      if (now - shownAt < 200) return;
      shownAt = now;
      shown = true;
      const perSecond = Math.round((p.sent * 1000) / Math.max(1, p.elapsedMs));
      const text = dryRun
        ? `replay (dry run): ${p.selected} events read`
        : `replay: ${p.sent} events sent, ${perSecond}/s`;
      process.stderr.write(`\r\x1b[2K${text}`);
    },
    clear() {
      if (shown) process.stderr.write('\r\x1b[2K');
      shown = false;
    },
  };
}

function printSummary(summary: ReplaySummary, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  const lines = Object.entries(summary.topics).map(([topic, n]) => `  ${topic}: ${n}\n`);
  const skipped = summary.skipped > 0 ? `, ${summary.skipped} skipped` : '';
  const head = summary.dryRun
    ? `dry run: ${summary.selected - summary.skipped} events would be sent${skipped}; nothing was sent\n`
    : `replayed ${summary.sent} events${skipped}\n`;
  process.stdout.write(head + lines.join(''));
}
