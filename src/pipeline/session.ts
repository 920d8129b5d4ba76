/**
 * One replication session: the place that wires every stage, from one START_REPLICATION to its
 * end. Replication source -> decode -> encode/route -> publish -> acknowledge, read in that order
 * below: a frame enters at onFrame (the connection's 'frame' event) and its rows leave through
 * onInsert -> toRecord -> publish; Kafka's answer comes back through the publisher's hooks
 * (onAcknowledged), which move the tracker and report its durable LSN. Metrics and health hear of
 * it all through one PipelineObserver.
 *
 * The rule it keeps: the LSN reported to Postgres is only ever `tracker.durableLsn`, which
 * moves past a transaction only after Kafka acknowledged all of it and everything before it.
 *
 * Backpressure: when `maxInFlightEvents` events are read but not yet acknowledged, the socket is
 * paused; it resumes at half. The walsender then blocks, and WAL stays in Postgres, not in us.
 */
import type { LogicalMessage, Relation } from '../decode/pgoutput.ts';
import { decodePgoutput, type PgoutputMessage } from '../decode/pgoutput.ts';
import { messageToEvent, nonTransactionalMessage } from '../decode/outbox-message.ts';
import {
  foreignRow,
  rowDecoder,
  rowToEvent,
  type BadRow,
  type RowDecoder,
} from '../decode/outbox-row.ts';
import { RELAY_MAPPING, type OutboxMapping } from '../config/outbox-mapping.ts';
import { encodeFailureReason, type EventEncoder } from '../encode/encoder.ts';
import type { Router } from '../route/router.ts';
import { AckTracker } from '../ack/tracker.ts';
import type { EventPosition } from '../domain/event.ts';
import type { Lsn } from '../domain/lsn.ts';
import { formatLsn, lsnFromBigInt } from '../domain/lsn.ts';
import { errorMessage, RelayError } from '../domain/errors.ts';
import type { Logger } from '../ops/logger.ts';
import { coveredBy, type Checkpoint } from '../publish/checkpoint.ts';
import type { KafkaRecord, KafkaSink } from '../publish/kafka.ts';
import { Publisher, type PendingRecord, type RefusalReason } from '../publish/publisher.ts';
import type { QueuedRecord } from '../publish/publisher.ts';
import type { SendTracing } from '../publish/tracing.ts';
import type { Unsealable } from '../encode/sealed.ts';
import type { ReplicationConnection } from '../source/replication-connection.ts';
import type { ReplicationFrame } from '../source/protocol.ts';
import type { SlotLease } from '../source/slot-lease.ts';
import { deadLetter, refusedRecord, unencodableEvent, type DeadLetter } from './dead-letter.ts';
import type { PipelineObserver } from './observer.ts';

export interface SessionOptions {
  schema: string;
  table: string;
  /**
   * The outbox table's OID when the session started, if it existed under its configured name.
   * Publications follow a table by OID, so a renamed outbox is still this relation.
   */
  outboxOid?: number | null | undefined;
  deadLetterTopic: string;
  maxInFlightEvents: number;
  batchMaxEvents: number;
  batchMaxBytes: number;
  /**
   * Transactions that commit below this LSN are already in Kafka (the relay's durable position
   * is ahead of the slot's after a Postgres restart): dropped and counted, not sent again.
   */
  skipBelow: Lsn;
  /** Exactly-once: builds the checkpoint record sent with each batch. */
  checkpointRecord?: ((position: Checkpoint) => KafkaRecord) | undefined;
  /** OpenTelemetry `send` spans: the client id and first broker they name. */
  tracing?: SendTracing | undefined;
  /** RELAY_MESSAGE_PREFIX: logical messages with this prefix are events; undefined: none are. */
  messagePrefix?: string | undefined;
  /** Which outbox column holds what; the relay's own table when absent. */
  mapping?: OutboxMapping | undefined;
}

export interface SessionDeps {
  connection: ReplicationConnection;
  sink: KafkaSink;
  encoder: EventEncoder;
  router: Router;
  logger: Logger;
  /** Told what the session does, for metrics and health. */
  observer: PipelineObserver;
  /** Ends the session with an error; the relay decides whether to reconnect. */
  fail: (error: unknown) => void;
  /** Says whether the slot is still this relay's; asked before every Kafka request. */
  lease?: Pick<SlotLease, 'contact' | 'owned'> | undefined;
  /** The slot's name, for messages. */
  slot?: string | undefined;
}

/** A record on its way to the publisher: its encoded key and value may await seal(). */
type OutgoingRecord = Unsealable<KafkaRecord>;

interface CurrentTransaction {
  /** The tracker's sequence number; null for a transaction Kafka already holds. */
  readonly seq: number | null;
  readonly commitLsn: Lsn;
  readonly commitTimeMicros: bigint;
  index: number;
  /** Its events Kafka already holds (all of them when `seq` is null), counted at its COMMIT. */
  skipped: number;
}

export class ReplicationSession {
  readonly tracker: AckTracker;
  private readonly publisher: Publisher;
  private readonly relations = new Map<number, Relation>();
  /** The mapping compiled for each outbox relation, once per Relation message (the hot path). */
  private readonly decoders = new Map<number, RowDecoder>();
  private readonly deps: SessionDeps;
  private readonly options: SessionOptions;
  private readonly log: Logger;
  private current: CurrentTransaction | null = null;
  private paused = false;
  /** Kafka's last answer was a failure: a paused reader will not resume until it recovers. */
  private publishFailing = false;
  private stopping = false;
  private readingStopped = false;
  /** Set once reading has stopped at a transaction boundary for shutdown. */
  private stoppedReading: (() => void) | null = null;
  private readonly warnedRelations = new Set<number>();
  /**
   * Frames that arrived before open(): the session holds them (the relay pauses the socket right
   * after START_REPLICATION) until it knows what Kafka already holds.
   */
  private held: ReplicationFrame[] | null = [];
  /** Exactly-once: where Kafka's committed checkpoint says this slot got to (set by open()). */
  private checkpoint: Checkpoint | null = null;
  /** The outbox's OID: from the catalog at start, else from the first Relation named like it. */
  private outboxOid: number | null;

  constructor(deps: SessionDeps, options: SessionOptions, startLsn: Lsn) {
    this.deps = deps;
    this.options = options;
    this.outboxOid = options.outboxOid ?? null;
    this.log = deps.logger.child({ stage: 'pipeline' });
    this.tracker = new AckTracker(startLsn);
    deps.observer.countInFlight(() => this.tracker.inFlightEvents);
    // The two ways in: Kafka's answers (section 4 below) and the slot's frames (section 1).
    this.publisher = new Publisher(
      deps.sink,
      {
        acknowledged: (records) => this.onAcknowledged(records),
        failed: (error, attempt, retryInMs) => this.onPublishFailed(error, attempt, retryInMs),
        refused: (record, reason, detail) => this.refusedDeadLetter(record, reason, detail),
        beforeSend: () => this.beforeSend(),
        seal: (records) => this.deps.encoder.seal(records),
      },
      { ...options, checkpoint: options.checkpointRecord, failFast: !!options.checkpointRecord },
    );
    deps.connection.on('frame', (frame) => this.onFrame(frame));
  }

  // Lifecycle: the relay opens the session, then finishes, abandons or salvages it.

  /**
   * Starts handling frames, those held since START_REPLICATION first. Exactly-once passes the
   * committed checkpoint, read after this relay owned the slot and fenced every earlier producer.
   */
  open(checkpoint: Checkpoint | null): void {
    this.checkpoint = checkpoint;
    const held = this.held ?? [];
    this.held = null;
    for (const frame of held) this.onFrame(frame);
    if (!this.paused && !this.readingStopped) this.deps.connection.resume();
  }

  /**
   * Stops reading at the next transaction boundary, then waits for Kafka to hold everything.
   * The COMMIT is not awaited when it cannot come: the connection is gone, or reading is paused
   * by backpressure while Kafka fails (it resumes only on acknowledgements). Reading then stops
   * at once; the partial transaction is not acknowledged, so Postgres sends it again after a
   * restart (those of its events already in Kafka arrive twice).
   */
  async finish(): Promise<Lsn> {
    this.stopping = true;
    if (this.current !== null && !this.commitCannotCome()) {
      // The rest of this transaction is committed and on its way: read it to its COMMIT (under
      // the same backpressure), so that no half-published transaction is replayed, and so
      // duplicated, after a restart.
      await new Promise<void>((resolve) => {
        this.stoppedReading = resolve;
        this.deps.connection.once('error', () => resolve());
      });
    }
    this.stopReading();
    await this.publisher.drain();
    this.deps.connection.reportDurable(this.tracker.durableLsn, true);
    return this.tracker.durableLsn;
  }

  /** Ends abruptly (connection lost, or a stop given up): waits for the request in flight, drops the rest. */
  async abandon(): Promise<void> {
    this.stopping = true;
    this.stopReading();
    this.stoppedReading?.(); // a finish() waiting for a COMMIT goes on to its (now short) drain
    await this.publisher.abandon();
  }

  /**
   * The replication connection was lost (Postgres restarting, a network cut) while Kafka may be
   * fine: the records of complete transactions already read are still sent, for at most
   * `withinMs` and only while the slot lease vouches for this relay, so that Postgres does not
   * have to send them again (as duplicates) after the reconnect. The unsent records of the
   * transaction cut off before its COMMIT are dropped: it is sent again whole. Then abandons.
   */
  async salvage(withinMs: number): Promise<void> {
    this.stopping = true;
    this.stopReading();
    this.stoppedReading?.();
    const partial = this.current?.seq ?? null;
    if (partial !== null) this.publisher.dropQueuedTail((record) => record.txSeq === partial);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, withinMs)));
    await Promise.race([this.publisher.drain(), late]);
    clearTimeout(timer);
    await this.publisher.abandon();
  }

  // 1. Source and decode: a frame from the slot becomes a pgoutput message.

  private onFrame(frame: ReplicationFrame): void {
    this.deps.lease?.contact();
    if (this.held) {
      this.held.push(frame);
      return;
    }
    try {
      this.handleFrame(frame);
    } catch (error) {
      this.deps.fail(error);
    }
  }

  private handleFrame(frame: ReplicationFrame): void {
    this.deps.observer.received();
    if (this.stopping && this.current === null) return; // past our stop point: replayed later
    if (frame.kind === 'keepalive') {
      this.observeServer(frame.walEnd);
      return;
    }
    this.onMessage(decodeOrThrow(frame.body));
    if (this.current === null) this.observeServer(frame.walEnd);
  }

  private onMessage(message: PgoutputMessage): void {
    switch (message.tag) {
      case 'begin':
        this.onBegin(message.finalLsn, message.commitTimeMicros);
        return;
      case 'relation':
        this.onRelation(message.relation);
        return;
      case 'insert':
        this.onInsert(message.relationOid, message.values);
        return;
      case 'commit':
        this.onCommit(message.endLsn);
        return;
      case 'message':
        this.onLogicalMessage(message);
        return;
      default:
        return;
    }
  }

  /** A transaction committed below `skipBelow` is in Kafka already: it gets no tracker entry. */
  private onBegin(finalLsn: Lsn, commitTimeMicros: bigint): void {
    this.current = {
      seq: finalLsn < this.options.skipBelow ? null : this.tracker.begin(commitTimeMicros),
      commitLsn: finalLsn,
      commitTimeMicros,
      index: 0,
      skipped: 0,
    };
  }

  private requireTransaction(): CurrentTransaction {
    if (!this.current)
      throw new RelayError('PG_PROTOCOL', 'row or COMMIT outside a transaction', {
        retriable: true,
      });
    return this.current;
  }

  // 2. Encode and route: a row becomes a record, or a dead letter.

  /** One row of a transaction: skipped if Kafka holds it, else made a record and published. */
  private onInsert(relationOid: number, values: Parameters<typeof rowToEvent>[1]): void {
    const tx = this.requireTransaction();
    const relation = this.relations.get(relationOid);
    if (!relation)
      throw new RelayError('DECODE', `insert for unknown relation ${relationOid}`, {
        retriable: true,
      });
    const position = this.nextPosition(tx);
    if (position === null) return;
    const record = this.toRecord(relation, values, position, tx.commitTimeMicros);
    this.publish(record, position, tx.commitTimeMicros);
  }

  /**
   * A logical message with RELAY_MESSAGE_PREFIX is an event of its transaction, as a row is. One
   * written outside a transaction is a transaction of its own, dead-lettered: it was kept even
   * if the transaction that wrote it rolled back. Other prefixes belong to someone else.
   */
  private onLogicalMessage(message: LogicalMessage): void {
    if (this.options.messagePrefix === undefined || message.prefix !== this.options.messagePrefix)
      return;
    if (message.transactional) {
      const tx = this.requireTransaction();
      const position = this.nextPosition(tx);
      if (position === null) return;
      const result = messageToEvent(message, position, tx.commitTimeMicros);
      const record = result.ok ? this.encode(result.event) : this.badRowRecord(result.bad);
      this.publish(record, position, tx.commitTimeMicros);
      return;
    }
    if (this.current !== null)
      throw new RelayError('PG_PROTOCOL', 'a non-transactional message inside a transaction', {
        retriable: true,
      });
    this.onBegin(message.lsn, BigInt(Date.now()) * 1000n);
    const tx = this.requireTransaction();
    const position = this.nextPosition(tx);
    if (position !== null) {
      const letter = this.deadLetterRecord(nonTransactionalMessage(message, position), null);
      this.publish(letter, position, tx.commitTimeMicros);
    }
    // Confirming the message's own LSN would have Postgres send it again after a restart: it
    // skips a non-transactional message only below the confirmed position.
    this.onCommit(lsnFromBigInt(message.lsn + 1n));
  }

  /** The next event's position in `tx`, or null when Kafka already holds it (counted). */
  private nextPosition(tx: CurrentTransaction): EventPosition | null {
    if (tx.seq === null) {
      tx.skipped++;
      return null;
    }
    const position = { commitLsn: tx.commitLsn, txSeq: tx.seq, index: tx.index++ };
    if (coveredBy(position, this.checkpoint)) {
      // exactly-once: Kafka's committed checkpoint says it already holds this one
      tx.skipped++;
      return null;
    }
    return position;
  }

  /** Decodes the row into an event, routes and encodes it; what cannot be one is a dead letter. */
  private toRecord(
    relation: Relation,
    values: Parameters<typeof rowToEvent>[1],
    position: EventPosition,
    commitTimeMicros: bigint,
  ): OutgoingRecord {
    if (!this.isOutbox(relation))
      return this.deadLetterRecord(foreignRow(relation, values, position, this.outboxName()), null);
    let decoder = this.decoders.get(relation.oid);
    if (decoder === undefined) {
      decoder = rowDecoder(relation, this.options.mapping ?? RELAY_MAPPING);
      this.decoders.set(relation.oid, decoder);
    }
    const result = rowToEvent(relation, values, position, decoder, commitTimeMicros);
    return result.ok ? this.encode(result.event) : this.badRowRecord(result.bad);
  }

  /** Routes the event (topic, key, headers), then encodes its key and value for that topic. */
  private encode(event: Parameters<EventEncoder['encodeValue']>[0]): OutgoingRecord {
    let route: ReturnType<Router['route']> | null = null;
    try {
      route = this.deps.router.route(event);
      return {
        topic: route.topic,
        key: this.deps.encoder.encodeKey?.(route.key, route.topic) ?? route.key,
        headers: route.headers,
        value: this.deps.encoder.encodeValue(event, route.topic),
      };
    } catch (error) {
      const detail = errorMessage(error);
      const reason = route ? encodeFailureReason(error) : 'unroutable';
      return this.deadLetterRecord(unencodableEvent(event, reason, detail), route?.topic ?? null);
    }
  }

  private badRowRecord(bad: BadRow): DeadLetter {
    const columns = (this.options.mapping ?? RELAY_MAPPING).columns;
    const intended = this.deps.router.intendedTopic({
      aggregateType: bad.row[columns.aggregateType] ?? null,
      eventType: bad.row[columns.eventType] ?? null,
    });
    return this.deadLetterRecord(bad, intended);
  }

  private deadLetterRecord(bad: BadRow, intendedTopic: string | null): DeadLetter {
    this.deps.observer.deadLettered(bad.reason);
    this.log.warn(
      {
        reason: bad.reason,
        detail: bad.detail,
        eventId: bad.eventId,
        commitLsn: formatLsn(bad.position.commitLsn),
      },
      'outbox row sent to the dead-letter topic',
    );
    return deadLetter(bad, this.options.deadLetterTopic, intendedTopic);
  }

  // 3. Publish: records go to the publisher in order, COMMIT closes the transaction for the
  //    tracker, and backpressure holds the source.

  /**
   * The record counts toward its transaction before the publisher may acknowledge it. At
   * `maxInFlightEvents` unacknowledged events the source pauses; onAcknowledged resumes it.
   */
  private publish(record: OutgoingRecord, position: EventPosition, commitTimeMicros: bigint): void {
    this.tracker.add(position.txSeq);
    this.publisher.enqueue({
      ...record,
      txSeq: position.txSeq,
      commitTimeMicros,
      commitLsn: position.commitLsn,
      index: position.index,
    });
    if (!this.paused && this.tracker.inFlightEvents >= this.options.maxInFlightEvents) this.pause();
  }

  private onCommit(endLsn: Lsn): void {
    const tx = this.requireTransaction();
    this.current = null;
    if (tx.seq !== null) this.tracker.commit(tx.seq, endLsn);
    if (tx.skipped > 0)
      this.deps.observer.skipped(tx.seq === null ? 'durable-position' : 'checkpoint', tx.skipped);
    if (this.stopping) {
      this.stopReading();
      this.stoppedReading?.();
    }
  }

  private pause(): void {
    this.paused = true;
    this.deps.connection.pause();
  }

  private resume(): void {
    if (!this.paused || this.readingStopped) return;
    this.paused = false;
    this.deps.connection.resume();
  }

  private stopReading(): void {
    this.readingStopped = true;
    this.deps.connection.pause();
  }

  private commitCannotCome(): boolean {
    return this.deps.connection.closed || (this.paused && this.publishFailing);
  }

  // 4. Kafka's side, through the publisher's hooks: before each request, a refused record, and
  //    the answer. What Kafka acknowledged goes to the tracker, and its durable LSN to Postgres.

  /**
   * Before every Kafka request: schema ids filled in, and the slot still ours. A relay that lost
   * the slot (it was frozen, and a standby took over) drops what it has not sent: the new owner
   * sends it again, after what it has already published, so per-key order holds.
   */
  private async beforeSend(): Promise<void> {
    await this.deps.encoder.ready?.();
    if (!this.deps.lease || (await this.deps.lease.owned())) return;
    const error = new RelayError(
      'PG_SLOT_LOST',
      `the slot "${this.deps.slot ?? ''}" is no longer streamed by this relay's connection (Postgres ended it, or another relay took the slot over); the events it had not sent are left to the slot's owner`,
      {
        retriable: true,
        hint: 'The process was frozen or cut off from Postgres for longer than wal_sender_timeout (RELAY_WAL_SENDER_TIMEOUT_MS). It reconnects, and stands by if another relay streams now.',
      },
    );
    this.log.warn({ err: error }, 'lost the slot: dropping the events not yet sent');
    void this.publisher.abandon(); // synchronously marks it abandoned: this request is not sent
    this.deps.fail(error);
    throw error;
  }

  /** Kafka refuses this record for good: a dead letter goes in its place (see refusedRecord). */
  private refusedDeadLetter(
    record: QueuedRecord,
    reason: RefusalReason,
    detail: string,
  ): PendingRecord {
    const intended = record.topic === this.options.deadLetterTopic ? null : record.topic;
    return { ...record, ...this.deadLetterRecord(refusedRecord(record, reason, detail), intended) };
  }

  private onAcknowledged(records: readonly PendingRecord[]): void {
    this.publishFailing = false;
    this.acknowledgeTransactions(records);
    this.deps.observer.published(records, this.tracker.oldestOpenCommitTimeMicros);
    // Report at once rather than on the next timer tick: after a crash, Postgres replays
    // everything past the last report, so every unreported acknowledgement is a duplicate.
    this.deps.connection.reportDurable(this.tracker.durableLsn, true);
    if (this.paused && this.tracker.inFlightEvents <= this.options.maxInFlightEvents / 2)
      this.resume();
  }

  /** Tells the tracker how many events of each transaction Kafka acknowledged. */
  private acknowledgeTransactions(records: readonly PendingRecord[]): void {
    let seq = -1;
    let count = 0;
    for (const record of records) {
      if (record.txSeq !== seq) {
        if (count > 0) this.tracker.acknowledge(seq, count);
        seq = record.txSeq;
        count = 0;
      }
      count++;
    }
    if (count > 0) this.tracker.acknowledge(seq, count);
  }

  private onPublishFailed(error: unknown, attempt: number, retryInMs: number | null): void {
    this.publishFailing = true;
    if (this.stopping && this.paused) this.stoppedReading?.(); // the COMMIT cannot come now
    this.deps.observer.publishFailed(error);
    if (retryInMs === null) {
      // Exactly-once: a failed commit may still have landed, so resending blindly could
      // duplicate. End the session; the next one reads the committed checkpoint and resumes
      // after it.
      this.deps.fail(error);
      return;
    }
    this.log.warn({ err: error, attempt, retryInMs }, 'Kafka publish failed; retrying');
  }

  private observeServer(walEnd: Lsn): void {
    if (this.current === null) this.tracker.observeIdle(walEnd);
    this.deps.connection.reportDurable(this.tracker.durableLsn);
    const { durableLsn, oldestOpenCommitTimeMicros } = this.tracker;
    this.deps.observer.positions(walEnd, durableLsn, oldestOpenCommitTimeMicros);
  }

  // The outbox among the relations Postgres describes.

  /**
   * Remembers a relation's description. The outbox is followed by OID: a Relation message for it
   * under another name means it was renamed (the publication still includes it), and its rows
   * are still events. A relation named like the outbox is the outbox too (a table dropped and
   * created again under the configured name has a new OID, and its old rows the old one).
   */
  private onRelation(relation: Relation): void {
    const previous = this.relations.get(relation.oid);
    this.relations.set(relation.oid, relation);
    this.decoders.delete(relation.oid); // compiled again, for its new columns, at its next row
    if (this.outboxOid === null && this.hasOutboxName(relation)) this.outboxOid = relation.oid;
    if (relation.oid === this.outboxOid && !this.hasOutboxName(relation)) {
      if (previous && previous.schema === relation.schema && previous.name === relation.name)
        return;
      this.log.warn(
        {
          relation: `${relation.schema}.${relation.name}`,
          configured: this.outboxName(),
          oid: relation.oid,
        },
        'the outbox table was renamed; still relaying its rows (publications follow a table, ' +
          'not its name): set RELAY_OUTBOX_SCHEMA / RELAY_OUTBOX_TABLE to the new name before ' +
          'the next restart',
      );
    } else if (!this.isOutbox(relation)) {
      this.warnForeignRelation(relation);
    }
  }

  private isOutbox(relation: Relation): boolean {
    return relation.oid === this.outboxOid || this.hasOutboxName(relation);
  }

  private hasOutboxName(relation: Relation): boolean {
    return relation.schema === this.options.schema && relation.name === this.options.table;
  }

  private outboxName(): string {
    return `${this.options.schema}.${this.options.table}`;
  }

  private warnForeignRelation(relation: Relation): void {
    if (this.warnedRelations.has(relation.oid)) return;
    this.warnedRelations.add(relation.oid);
    this.log.warn(
      { relation: `${relation.schema}.${relation.name}`, outbox: this.outboxName() },
      'the publication includes a table that is not the outbox; its rows go to the ' +
        'dead-letter topic (foreign-table): remove it from the publication',
    );
  }
}

function decodeOrThrow(body: Buffer): PgoutputMessage {
  try {
    return decodePgoutput(body);
  } catch (error) {
    throw new RelayError('DECODE', `cannot decode a pgoutput message: ${String(error)}`, {
      cause: error,
      retriable: true,
    });
  }
}
