/**
 * `replay`: publishes again events that are still in the outbox table, read with plain SELECTs
 * (src/db/outbox-reader.ts), through the daemon's own stages: rowToEvent, the router and the
 * encoder. So a replayed record has the original's topic (unless overridden), key, headers and
 * value byte for byte, plus two headers that mark it as a replay.
 *
 * Order: rows are read and sent in commit order (see src/db/outbox-reader.ts), one produce
 * request at a time, each acknowledged (acks=all) before the next. One aggregate's events share
 * a key, so a partition, and reach it in the order their transactions committed. That order
 * needs tx_id and tx_seq (migration 0003) and track_commit_timestamp = on; without them, a
 * selection in which some aggregate has two events or more is refused, unless the operator asks
 * for (created_at, id) order: the transactions' start times, which overlapping transactions do
 * not commit in, and random ids within one transaction.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { rowDecoder, rowToEvent } from '../decode/outbox-row.ts';
import type { Relation } from '../decode/pgoutput.ts';
import {
  aggregatesWithSeveralEvents,
  commitOrderSupport,
  readOutbox,
  tableColumns,
  type CommitOrderSupport,
  type OutboxSelection,
  type OutboxTable,
  type OutboxTextRow,
  type ReplayOrder,
} from '../db/outbox-reader.ts';
import type { BadRowReason } from '../domain/bad-row-reason.ts';
import { errorMessage, RelayError } from '../domain/errors.ts';
import type { OutboxEvent } from '../domain/event.ts';
import { INVALID_LSN } from '../domain/lsn.ts';
import type { Db } from '../db/client.ts';
import {
  mappedColumns,
  missingColumns,
  missingColumnsError,
  RELAY_MAPPING,
} from '../config/outbox-mapping.ts';
import { encodeFailureReason, type EventEncoder } from '../encode/encoder.ts';
import type { KafkaRecord, KafkaSink, TopicState } from '../publish/kafka.ts';
import type { Sealed, Unsealable } from '../encode/sealed.ts';
import type { Router } from '../route/router.ts';

/** Marks a record as a replay; the value is always "true". */
export const REPLAY_HEADER = 'replay';
/** When the record was handed to Kafka by a replay, as an ISO 8601 time. */
export const REPLAYED_AT_HEADER = 'replayed_at';

export interface ReplayRequest {
  readonly selection: OutboxSelection;
  /** Send every event to this topic instead of the one the router picks. */
  readonly topic?: string | undefined;
  /** Read, route and encode, call `event` for each, and send nothing. */
  readonly dryRun: boolean;
  /** At most this many events per second. */
  readonly rate?: number | undefined;
  /** "commit" (the default) or "created-at", the operator's explicit opt-in to the old order. */
  readonly order?: ReplayOrder | undefined;
  /** Read the rows this exported snapshot sees (src/admin/snapshot.ts), not the table as it is. */
  readonly snapshot?: string | undefined;
  /** Headers that mark every record, instead of replay=true and replayed_at. */
  readonly marker?: Readonly<Record<string, string>> | undefined;
}

export interface ReplayDeps {
  readonly table: OutboxTable;
  /** An ordinary connection (connectReader): the rows are read with plain SELECTs. */
  readonly db: Db;
  /** A connected sink of its own, not the relay's; null in a dry run. */
  readonly sink: KafkaSink | null;
  readonly encoder: EventEncoder;
  readonly router: Router;
  readonly batchMaxEvents: number;
  readonly batchMaxBytes: number;
  readonly hooks?: ReplayHooks;
}

export interface ReplayHooks {
  /** Each event, in order, once it is acknowledged by Kafka (in a dry run: once encoded). */
  event?(event: ReplayedEvent): void;
  /** A row that cannot become an event; the relay sent it to the dead-letter topic. */
  skipped?(row: SkippedRow): void;
  /** After every produce request (in a dry run: every page). */
  progress?(progress: ReplayProgress): void;
}

export interface ReplayedEvent {
  readonly id: string;
  readonly topic: string;
  readonly key: string;
  readonly eventType: string;
}

export interface SkippedRow {
  readonly id: string;
  readonly reason: BadRowReason;
  readonly detail: string;
}

export interface ReplayProgress {
  readonly selected: number;
  readonly sent: number;
  readonly elapsedMs: number;
}

export interface ReplaySummary {
  /** Rows of the selection that were read. */
  selected: number;
  /** Records Kafka acknowledged. */
  sent: number;
  /** Rows that cannot become events (see ReplayHooks.skipped). */
  skipped: number;
  /** Records per topic: sent, or in a dry run, that would be sent. */
  topics: Record<string, number>;
  dryRun: boolean;
  /**
   * The order the events were read and sent in. "created-at" when asked for, or when commit
   * order is not known and no aggregate has two events in the selection (so none can reorder).
   */
  order: ReplayOrder;
}

interface PlannedRecord extends Unsealable<KafkaRecord> {
  readonly event: OutboxEvent;
  /** created_at as Postgres printed it: where a resumed replay starts (null: no such column). */
  readonly createdAt: string | null;
}

// A relation like the one pgoutput describes, so that rows read with SELECT go through the same
// mapping and rowToEvent as rows read from the WAL.
function outboxRelation(table: OutboxTable, columns: readonly string[]): Relation {
  return {
    oid: 0,
    schema: table.schema,
    name: table.table,
    columns: columns.map((name) => ({ name, typeOid: 0 })),
  };
}

/**
 * The table with the mapped columns it has: a column the mapping needs and the table lacks
 * stops the replay (exit 2) as it stops `run`. No table: the read fails with its own message.
 */
async function withColumns(deps: ReplayDeps): Promise<ReplayDeps> {
  const mapping = deps.table.mapping ?? RELAY_MAPPING;
  const present = await tableColumns(deps.db, deps.table);
  if (present.size === 0) return deps;
  const missing = missingColumns(mapping, present);
  if (missing.length > 0)
    throw missingColumnsError(`${deps.table.schema}.${deps.table.table}`, missing);
  const columns = mappedColumns(mapping)
    .map((c) => c.column)
    .filter((c) => present.has(c));
  return { ...deps, table: { ...deps.table, mapping, columns } };
}

export async function replay(given: ReplayDeps, request: ReplayRequest): Promise<ReplaySummary> {
  const deps = await withColumns(given);
  const order = await chooseOrder(deps, request);
  const summary: ReplaySummary = {
    selected: 0,
    sent: 0,
    skipped: 0,
    topics: {},
    dryRun: request.dryRun,
    order,
  };
  const started = performance.now();
  const progress = () =>
    deps.hooks?.progress?.({ ...summary, elapsedMs: performance.now() - started });
  const send = request.dryRun ? null : sender(deps, request, summary);
  const plan = planner(deps, request, summary);
  const { db, table, batchMaxEvents } = deps;
  const pages = readOutbox(db, table, request.selection, batchMaxEvents, order, request.snapshot);
  try {
    for await (const rows of pages) {
      summary.selected += rows.length;
      const records = plan(rows);
      if (send) await send(records, progress);
      else records.forEach((r) => countEvent(deps.hooks, summary, r));
      progress();
    }
  } catch (error) {
    throw withResumeHint(error, summary.sent, send?.resumeFrom() ?? null);
  }
  return summary;
}

/**
 * Commit order when it is known; otherwise refuses (exit 2) a selection whose order matters: one
 * in which some aggregate has more than one event.
 */
async function chooseOrder(deps: ReplayDeps, request: ReplayRequest): Promise<ReplayOrder> {
  if (request.order === 'created-at') return 'created-at';
  const support = await commitOrderSupport(deps.db, deps.table);
  // No table: the read that follows fails with its own message and fix.
  if (!support.tableFound) return 'created-at';
  const missing = missingForCommitOrder(support);
  if (missing.length === 0) return 'commit';
  const several = await aggregatesWithSeveralEvents(deps.db, deps.table, request.selection);
  if (several === 0) return 'created-at';
  const table = `${deps.table.schema}.${deps.table.table}`;
  throw new RelayError(
    'CONFIG_INVALID',
    `replay cannot know the order in which the events of ${table} were committed: ${missing.map((m) => m.problem).join(', and ')}; ${several} aggregate(s) of the selection have more than one event, which could go out of order`,
    {
      hint: `${missing.map((m) => m.fix).join(' ')} Or pass --order created-at to send them in (created_at, id) order: their transactions' start times, so events of overlapping transactions, or of one transaction, may go out of the order they were committed in.`,
    },
  );
}

function missingForCommitOrder(support: CommitOrderSupport) {
  const missing: { problem: string; fix: string }[] = [];
  if (!support.columns) {
    missing.push({
      problem: 'the table has no tx_id and tx_seq columns (migration 0003)',
      fix: 'Run "outbox-relay migrate" to add them (events written before it are replayed first, in created_at order).',
    });
  }
  if (!support.trackCommitTimestamp) {
    missing.push({
      problem: 'track_commit_timestamp is off',
      fix: 'Set track_commit_timestamp = on (ALTER SYSTEM SET track_commit_timestamp = on;) and restart PostgreSQL; events committed before that are replayed first, in transaction id order.',
    });
  }
  return missing;
}

/** Turns rows into records as the replication session does, skipping what it dead-letters. */
function planner(deps: ReplayDeps, request: ReplayRequest, summary: ReplaySummary) {
  const mapping = deps.table.mapping ?? RELAY_MAPPING;
  const columns = deps.table.columns ?? mappedColumns(mapping).map((c) => c.column);
  const relation = outboxRelation(deps.table, columns);
  const decoder = rowDecoder(relation, mapping);
  const { id, createdAt } = mapping.columns;
  let index = 0;
  return (rows: readonly OutboxTextRow[]): PlannedRecord[] => {
    const records: PlannedRecord[] = [];
    // Without a timestamp column, an event's time is when replay read it.
    const readAt = BigInt(Date.now()) * 1000n;
    for (const row of rows) {
      const values = columns.map((column) => row[column] ?? null);
      const position = { commitLsn: INVALID_LSN, txSeq: 0, index };
      const result = rowToEvent(relation, values, position, decoder, readAt);
      index++;
      const printedAt = createdAt === null ? null : (row[createdAt] ?? null);
      const planned = result.ok ? encode(deps, request, result.event, printedAt) : result.bad;
      if ('event' in planned) records.push(planned);
      else {
        summary.skipped++;
        const skipped = { id: row[id] ?? '', reason: planned.reason, detail: planned.detail };
        deps.hooks?.skipped?.(skipped);
      }
    }
    return records;
  };
}

/** The session's route-then-encode, with the topic override applied after routing. */
function encode(
  deps: ReplayDeps,
  request: ReplayRequest,
  event: OutboxEvent,
  createdAt: string | null,
): PlannedRecord | { reason: BadRowReason; detail: string } {
  let routed: ReturnType<Router['route']> | null = null;
  try {
    routed = deps.router.route(event);
    const topic = request.topic ?? routed.topic;
    const value = deps.encoder.encodeValue(event, topic);
    const key = deps.encoder.encodeKey?.(routed.key, topic) ?? routed.key;
    return { topic, key, headers: routed.headers, value, event, createdAt };
  } catch (error) {
    const detail = errorMessage(error);
    return { reason: routed ? encodeFailureReason(error) : 'unroutable', detail };
  }
}

/**
 * Sends records in produce requests of at most batchMaxEvents / batchMaxBytes, one at a time,
 * each awaited. With a rate, requests are smaller (about ten a second) and event k is held back
 * until k / rate seconds after the first: never ahead of the rate, whatever the batch size.
 */
function sender(deps: ReplayDeps, request: ReplayRequest, summary: ReplaySummary) {
  const sink = deps.sink;
  if (!sink) throw new RelayError('INTERNAL', 'replay needs a Kafka sink unless it is a dry run');
  const maxEvents = request.rate
    ? Math.max(1, Math.min(deps.batchMaxEvents, Math.floor(request.rate / 10)))
    : deps.batchMaxEvents;
  let firstSentAt: number | null = null;
  let lastAcknowledged: PlannedRecord | undefined;
  const send = async (records: readonly PlannedRecord[], progress: () => void) => {
    for (const batch of batches(records, maxEvents, deps.batchMaxBytes)) {
      firstSentAt ??= performance.now();
      if (request.rate)
        await sleepUntil(firstSentAt + ((summary.sent + batch.length - 1) * 1000) / request.rate);
      await publish(sink, await deps.encoder.seal(batch), request.marker); // sealing: schema ids
      batch.forEach((r) => countEvent(deps.hooks, summary, r));
      summary.sent += batch.length;
      lastAcknowledged = batch[batch.length - 1];
      progress();
    }
  };
  // In commit order, created_at is no safe point to go on from: a transaction that started
  // earlier may have committed, and be sent, later.
  const resumeFrom = () =>
    summary.order === 'created-at' ? (lastAcknowledged?.createdAt ?? null) : null;
  return Object.assign(send, { resumeFrom });
}

function countEvent(hooks: ReplayHooks | undefined, summary: ReplaySummary, r: PlannedRecord) {
  summary.topics[r.topic] = (summary.topics[r.topic] ?? 0) + 1;
  const key = r.event.key ?? r.event.aggregateId;
  hooks?.event?.({ id: r.event.id, topic: r.topic, key, eventType: r.event.eventType });
}

async function publish(
  sink: KafkaSink,
  batch: readonly Sealed<PlannedRecord>[],
  marker?: Readonly<Record<string, string>>,
): Promise<void> {
  const mark = marker ?? {
    [REPLAY_HEADER]: 'true',
    [REPLAYED_AT_HEADER]: new Date().toISOString(),
  };
  const records = batch.map(({ topic, key, value, headers }) => ({
    topic,
    key,
    value,
    headers: { ...headers, ...mark },
  }));
  let topics: ReadonlyMap<string, TopicState>;
  try {
    topics = await sink.ensureTopics([...new Set(records.map((r) => r.topic))]);
  } catch (error) {
    throw new RelayError('KAFKA_PUBLISH', `cannot create or inspect topics: ${String(error)}`, {
      cause: error,
      retriable: true,
      hint: 'Check that the brokers (RELAY_KAFKA_BROKERS) are reachable and allow creating topics.',
    });
  }
  for (const state of topics.values()) {
    if (!state.ok) {
      throw new RelayError('KAFKA_PUBLISH', state.refusal, {
        hint: 'Replay these events to a topic Kafka accepts (--topic), or select them out.',
      });
    }
  }
  await sink.send(records);
}

function* batches(records: readonly PlannedRecord[], maxEvents: number, maxBytes: number) {
  let batch: PlannedRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const full = batch.length >= maxEvents || bytes + record.value.length > maxBytes;
    if (batch.length > 0 && full) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(record);
    bytes += record.value.length;
  }
  if (batch.length > 0) yield batch;
}

async function sleepUntil(time: number): Promise<void> {
  const delay = time - performance.now();
  if (delay > 0) await sleep(delay);
}

/** Says how far the replay got and how to go on from there, on top of what went wrong. */
function withResumeHint(error: unknown, sent: number, resumeFrom: string | null): unknown {
  if (!(error instanceof RelayError) || error.code === 'CONFIG_INVALID') return error;
  const resume = resumeFrom
    ? `Then run the same replay with --from ${isoTime(resumeFrom)} to go on (events created at that instant are sent again).`
    : 'Then run the same replay again (it sends again the events already sent).';
  return new RelayError(error.code, `${error.message} (after ${sent} events were sent)`, {
    cause: error,
    retriable: error.retriable,
    hint: `${error.hint ?? 'Fix the cause above.'} ${resume}`,
  });
}

/** "2026-05-01 12:00:00.123456+00" (the session prints UTC) as "2026-05-01T12:00:00.123456Z". */
function isoTime(printed: string): string {
  return printed.replace(' ', 'T').replace(/\+00$/, 'Z');
}
