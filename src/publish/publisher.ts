/**
 * Turns a stream of records into Kafka produce requests: one request in flight at a time, so a
 * retried request can never be overtaken and per-key order holds; records accumulate while a
 * request is out, which batches naturally under load (kafkajs has no linger.ms).
 *
 * A failed request is retried, whole and in order, with jittered capped backoff, until it
 * succeeds or the publisher is abandoned. Nothing is dropped: a record Kafka refuses for good
 * (too large for its topic, a topic Kafka will not create or let us write) is replaced by a dead
 * letter in its place, so that it does not hold up every record behind it.
 *
 * Records are checked against their topic's size limit before they join a request, and a
 * request holds no more bytes for a topic than the topic accepts in one record batch: a refused
 * request is split and sent again, and in at-least-once mode the partitions of it that Kafka had
 * written would then be written twice.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RelayError } from '../domain/errors.ts';
import { Fifo } from '../domain/fifo.ts';
import { backoffDelay, type BackoffPolicy } from '../domain/retry.ts';
import type { Lsn } from '../domain/lsn.ts';
import type { Sealed, Unsealable } from '../encode/sealed.ts';
import type { KafkaRecord, KafkaSink, TopicState } from './kafka.ts';
import { fitsAlone, RECORD_BATCH_OVERHEAD, recordBytes } from './record-size.ts';
import { tracedSend, type SendTracing } from './tracing.ts';

export interface PendingRecord extends KafkaRecord {
  /** The transaction this record belongs to, for the acknowledgement tracker. */
  readonly txSeq: number;
  /** Commit time of its transaction, microseconds since the Unix epoch, for latency. */
  readonly commitTimeMicros: bigint;
  /** Its position: the transaction's commit LSN and its index there (for checkpoints). */
  readonly commitLsn: Lsn;
  readonly index: number;
}

/** A record as enqueued: its key and value may still wait for the encoder's seal(). */
export type QueuedRecord = Unsealable<PendingRecord>;

export interface PublisherHooks {
  /** Kafka acknowledged these records, in the order they were enqueued. */
  acknowledged(records: readonly PendingRecord[]): void;
  /** A request failed; it is retried in `retryInMs`, or never (null) when failing fast. */
  failed(error: unknown, attempt: number, retryInMs: number | null): void;
  /**
   * Kafka refuses this one record for good: `too-large` for its topic, or `unroutable` (Kafka
   * will not create or let us write its topic, or refuses the record); `detail` is what Kafka
   * said. Returns what to send in its place (a small dead letter for the same transaction and
   * position). A replacement that is refused too is fatal.
   */
  refused(record: QueuedRecord, reason: RefusalReason, detail: string): PendingRecord;
  /** Before every request; throws to keep it from being sent. */
  beforeSend?(): Promise<void>;
  /** The request's records, sendable: the encoder's seal(), which fills in schema ids. */
  seal(records: readonly QueuedRecord[]): Promise<Sealed<QueuedRecord>[]>;
}

export type RefusalReason = 'too-large' | 'unroutable';

/** Errors of a send that retrying cannot fix, for the records of the request. */
const REFUSALS = new Set(['KAFKA_TOO_LARGE', 'KAFKA_RECORD_REFUSED', 'KAFKA_TOPIC_REFUSED']);

export interface PublisherOptions {
  batchMaxEvents: number;
  batchMaxBytes: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
  /**
   * Exactly-once: a record to send with each batch, in the same Kafka transaction, saying
   * which position its last record reached.
   */
  checkpoint?: ((last: PendingRecord) => KafkaRecord) | undefined;
  /** Give up on the first failure instead of retrying (the owner then starts over). */
  failFast?: boolean;
  /** OpenTelemetry `send` spans (tracing.ts): what they say about the client. */
  tracing?: SendTracing | undefined;
}

export class Publisher {
  private readonly queue = new Fifo<QueuedRecord>();
  private running: Promise<void> | null = null;
  private abandoned = false;
  /** Dead letters sent in place of refused records; one refused too is fatal. */
  private readonly replacements = new WeakSet<QueuedRecord>();
  private readonly abort = new AbortController();
  private readonly sink: KafkaSink;
  private readonly hooks: PublisherHooks;
  private readonly options: PublisherOptions;
  private readonly retryPolicy: BackoffPolicy;

  constructor(sink: KafkaSink, hooks: PublisherHooks, options: PublisherOptions) {
    this.sink = sink;
    this.hooks = hooks;
    this.options = options;
    this.retryPolicy = {
      initialMs: options.retryInitialMs ?? 250,
      maxMs: options.retryMaxMs ?? 5_000,
    };
  }

  /** Records waiting for their produce request. */
  get waiting(): number {
    return this.queue.length;
  }

  enqueue(record: QueuedRecord): void {
    if (this.abandoned) return;
    this.queue.push(record);
    this.running ??= this.loop().finally(() => (this.running = null));
  }

  /** Resolves when everything enqueued so far is acknowledged. */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Drops the records at the back of the queue that `match`, up to the first that does not. */
  dropQueuedTail(match: (record: QueuedRecord) => boolean): number {
    let dropped = 0;
    while (this.waiting > 0 && match(this.queue.peek(this.waiting - 1) as QueuedRecord)) {
      this.queue.pop();
      dropped++;
    }
    return dropped;
  }

  /** Stops retrying, drops what is not yet sent, and waits for the request in flight to settle. */
  async abandon(): Promise<void> {
    this.abandoned = true;
    this.abort.abort();
    this.queue.clear();
    await this.running?.catch(() => undefined);
  }

  private async loop(): Promise<void> {
    while (!this.abandoned && this.waiting > 0) {
      // The topics of the next request must exist, and their limits be known, before it is cut.
      const topics = await this.retrying(() => this.sink.ensureTopics(this.headTopics()));
      if (!topics || this.abandoned) return;
      const sent = await this.sendWithRetry(this.takeBatch(topics));
      // A request that Kafka acknowledged counts even when the publisher was abandoned while it
      // was out: it is in Kafka, and not counting it would send it again after the restart.
      if (sent) this.hooks.acknowledged(sent);
    }
  }

  /** The topics of the records the next request may hold. */
  private headTopics(): string[] {
    const topics = new Set<string>();
    const end = Math.min(this.waiting, this.options.batchMaxEvents);
    for (let i = 0; i < end; i++) topics.add((this.queue.peek(i) as QueuedRecord).topic);
    return [...topics];
  }

  /**
   * The next request: at most batchMaxEvents records and batchMaxBytes value bytes, and for
   * each topic no more than its max.message.bytes (counted over the topic, so that no one
   * partition's record batch can exceed it). A record refused for good is replaced here, before
   * it joins the request, so that its request is not refused with it.
   */
  private takeBatch(topics: ReadonlyMap<string, TopicState>): QueuedRecord[] {
    const { batchMaxEvents, batchMaxBytes } = this.options;
    const batch: QueuedRecord[] = [];
    const topicBytes = new Map<string, number>();
    let bytes = 0;
    for (
      let next = this.queue.peek(0);
      next && batch.length < batchMaxEvents;
      next = this.queue.peek(batch.length)
    ) {
      const state = topics.get(next.topic);
      if (!state && batch.length > 0) break; // its topic is prepared for the next request
      const refusal = state ? this.refusal(next, state) : null;
      const size = refusal ? 0 : recordBytes(next);
      const used = topicBytes.get(next.topic) ?? 0;
      const limit = state?.ok ? state.maxMessageBytes : null;
      const full =
        bytes + next.value.length > batchMaxBytes ||
        (limit !== null && used + size > limit - RECORD_BATCH_OVERHEAD);
      if (batch.length > 0 && full) break;
      bytes += next.value.length;
      topicBytes.set(next.topic, used + size);
      batch.push(refusal ? this.replace(next, refusal.reason, refusal.detail) : next);
    }
    this.queue.take(batch.length);
    return batch;
  }

  /** Why Kafka will refuse this record for good, if it will. */
  private refusal(
    record: QueuedRecord,
    state: TopicState,
  ): { reason: RefusalReason; detail: string } | null {
    if (this.replacements.has(record)) return null;
    if (!state.ok) return { reason: 'unroutable', detail: state.refusal };
    const limit = state.maxMessageBytes;
    if (limit === null || fitsAlone(record, limit)) return null;
    return {
      reason: 'too-large',
      detail: `the topic "${record.topic}" accepts at most ${limit} bytes in a record batch (its max.message.bytes); this record needs ${RECORD_BATCH_OVERHEAD + recordBytes(record)}`,
    };
  }

  private replace(record: QueuedRecord, reason: RefusalReason, detail: string): PendingRecord {
    const replacement = this.hooks.refused(record, reason, detail);
    this.replacements.add(replacement);
    return replacement;
  }

  /**
   * Replaces the records of `batch` that Kafka will refuse (their topic's state may have changed
   * since the request was cut: recreated, or its limit read again after a refusal). A dead
   * letter whose own topic is refused cannot be replaced: that stops the relay.
   */
  private screen(batch: PendingRecord[], topics: ReadonlyMap<string, TopicState>): PendingRecord[] {
    return batch.map((record) => {
      const state = topics.get(record.topic);
      if (!state) return record;
      if (this.replacements.has(record) && !state.ok) {
        throw new RelayError('KAFKA_PUBLISH', `cannot send a dead letter: ${state.refusal}`, {
          hint: 'Check RELAY_DEAD_LETTER_TOPIC and what the relay may do on it (Create, Write).',
        });
      }
      const refusal = this.refusal(record, state);
      return refusal ? this.replace(record, refusal.reason, refusal.detail) : record;
    });
  }

  /**
   * Sends `batch` and returns what Kafka now holds: the batch, with refused records replaced;
   * or null when it gave up (abandoned, or failing fast) without Kafka's acknowledgement.
   */
  private async sendWithRetry(batch: QueuedRecord[]): Promise<PendingRecord[] | null> {
    let current: QueuedRecord[] = batch;
    const sent = await this.retrying(
      async () => {
        const sealed = await this.hooks.seal(current);
        let sendable = this.screen(sealed, await this.sink.ensureTopics(topicsOf(sealed)));
        current = sendable;
        // Dead letters put in just now go to a topic that may not exist yet.
        const states = await this.sink.ensureTopics(topicsOf(sendable));
        current = sendable = this.screen(sendable, states);
        const last = sendable[sendable.length - 1];
        const checkpoint = last && this.options.checkpoint?.(last);
        // Last, right before the request: a relay frozen after this check and thawed after a
        // takeover sends older events after the new owner's newer ones, so the window stays short.
        await this.hooks.beforeSend?.();
        const request = checkpoint ? [...sendable, checkpoint] : sendable;
        const { tracing } = this.options;
        if (tracing) await tracedSend(tracing, sendable, () => this.sink.send(request));
        else await this.sink.send(request);
        return sendable;
      },
      // Deterministic, and refused before anything was written (a Kafka transaction is
      // aborted): split until the record or topic is found, and send dead letters instead.
      (refusal) => this.splitRefused(current, refusal),
    );
    return sent ?? null;
  }

  /**
   * Runs `attempt` until it succeeds, with jittered capped backoff between failures.
   * Undefined once abandoned: a non-retriable error (or any error, failing fast) abandons.
   */
  private async retrying<T>(
    attempt: () => Promise<T>,
    onRefusal?: (error: RelayError) => Promise<T>,
  ): Promise<T | undefined> {
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (error) {
        if (this.abandoned) return undefined;
        if (onRefusal && error instanceof RelayError && REFUSALS.has(error.code)) {
          return onRefusal(error);
        }
        if (this.options.failFast || (error instanceof RelayError && !error.retriable)) {
          this.abandoned = true;
          this.hooks.failed(error, n, null);
          return undefined;
        }
        const delay = backoffDelay(this.retryPolicy, n);
        this.hooks.failed(error, n, delay);
        await sleep(delay, undefined, { signal: this.abort.signal }).catch(() => undefined);
        if (this.abandoned) return undefined;
      }
    }
  }

  private async splitRefused(
    batch: QueuedRecord[],
    error: RelayError,
  ): Promise<PendingRecord[] | null> {
    const reason: RefusalReason = error.code === 'KAFKA_TOO_LARGE' ? 'too-large' : 'unroutable';
    const oneTopic = error.code === 'KAFKA_TOPIC_REFUSED' && topicsOf(batch).length === 1;
    if (batch.length === 1 || oneTopic) {
      if (batch.some((r) => this.replacements.has(r))) {
        this.abandoned = true;
        this.hooks.failed(error, 1, null);
        return null;
      }
      return this.sendWithRetry(batch.map((r) => this.replace(r, reason, error.message)));
    }
    const half = Math.ceil(batch.length / 2);
    const first = await this.sendWithRetry(batch.slice(0, half));
    if (!first || this.abandoned) return first;
    return [...first, ...((await this.sendWithRetry(batch.slice(half))) ?? [])];
  }
}

function topicsOf(records: readonly Pick<KafkaRecord, 'topic'>[]): string[] {
  return [...new Set(records.map((r) => r.topic))];
}
