/**
 * Turns a stream of records into Kafka produce requests: one request in flight at a time, so a
 * retried request can never be overtaken and per-key order holds; records accumulate while a
 * request is out, which batches naturally under load (kafkajs has no linger.ms).
 *
 * A failed request is retried, whole and in order, with capped exponential backoff, until it
 * succeeds or the publisher is abandoned. Nothing is dropped.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RelayError } from '../domain/errors.ts';
import { Fifo } from '../domain/fifo.ts';
import type { Lsn } from '../domain/lsn.ts';
import type { KafkaRecord, KafkaSink } from './kafka.ts';

export interface PendingRecord extends KafkaRecord {
  /** The transaction this record belongs to, for the acknowledgement tracker. */
  readonly txSeq: number;
  /** Commit time of its transaction, microseconds since the Unix epoch, for latency. */
  readonly commitTimeMicros: bigint;
  /** Its position: the transaction's commit LSN and its index there (for checkpoints). */
  readonly commitLsn: Lsn;
  readonly index: number;
}

export interface PublisherHooks {
  /** Kafka acknowledged these records, in the order they were enqueued. */
  acknowledged(records: readonly PendingRecord[]): void;
  /** A request failed; it is retried in `retryInMs`, or never (null) when failing fast. */
  failed(error: unknown, attempt: number, retryInMs: number | null): void;
  /**
   * Kafka refused this one record as too large: what to send in its place (a small dead letter
   * for the same transaction and position). A replacement that is refused too is fatal.
   */
  tooLarge(record: PendingRecord, error: unknown): PendingRecord;
  /** Resolves when the records enqueued so far are ready to send (schema ids filled in). */
  beforeSend?(): Promise<void>;
}

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
}

export class Publisher {
  private readonly queue = new Fifo<PendingRecord>();
  private running: Promise<void> | null = null;
  private abandoned = false;
  /** Dead letters sent in place of too-large records; one refused too means a broken limit. */
  private readonly replacements = new WeakSet<PendingRecord>();
  private readonly abort = new AbortController();
  private readonly sink: KafkaSink;
  private readonly hooks: PublisherHooks;
  private readonly options: PublisherOptions & { retryInitialMs: number; retryMaxMs: number };

  constructor(sink: KafkaSink, hooks: PublisherHooks, options: PublisherOptions) {
    this.sink = sink;
    this.hooks = hooks;
    this.options = { retryInitialMs: 250, retryMaxMs: 5_000, ...options };
  }

  /** Records waiting for their produce request. */
  get waiting(): number {
    return this.queue.length;
  }

  enqueue(record: PendingRecord): void {
    if (this.abandoned) return;
    this.queue.push(record);
    this.running ??= this.loop().finally(() => (this.running = null));
  }

  /** Resolves when everything enqueued so far is acknowledged. */
  async drain(): Promise<void> {
    while (this.running) await this.running;
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
      const sent = await this.sendWithRetry(this.takeBatch());
      // A request that Kafka acknowledged counts even when the publisher was abandoned while it
      // was out: it is in Kafka, and not counting it would send it again after the restart.
      if (sent) this.hooks.acknowledged(sent);
    }
  }

  private takeBatch(): PendingRecord[] {
    const { batchMaxEvents, batchMaxBytes } = this.options;
    let count = 0;
    let bytes = 0;
    for (
      let next = this.queue.peek(0);
      next && count < batchMaxEvents;
      next = this.queue.peek(count)
    ) {
      if (count > 0 && bytes + next.value.length > batchMaxBytes) break;
      bytes += next.value.length;
      count++;
    }
    return this.queue.take(count);
  }

  /**
   * Sends `batch` and returns what Kafka now holds: the batch, with too-large records replaced;
   * or null when it gave up (abandoned, or failing fast) without Kafka's acknowledgement.
   */
  private async sendWithRetry(batch: PendingRecord[]): Promise<PendingRecord[] | null> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.hooks.beforeSend?.();
        await this.sink.ensureTopics([...new Set(batch.map((r) => r.topic))]);
        const last = batch[batch.length - 1];
        const checkpoint = last && this.options.checkpoint?.(last);
        await this.sink.send(checkpoint ? [...batch, checkpoint] : batch);
        return batch;
      } catch (error) {
        if (this.abandoned) return null;
        // Deterministic, and refused before anything was written (a Kafka transaction is
        // aborted): split until the one record is found, and send a dead letter in its place.
        if (error instanceof RelayError && error.code === 'KAFKA_TOO_LARGE') {
          return this.splitTooLarge(batch, error);
        }
        if (this.options.failFast || (error instanceof RelayError && !error.retriable)) {
          this.abandoned = true;
          this.hooks.failed(error, attempt, null);
          return null;
        }
        const delay = Math.min(
          this.options.retryMaxMs,
          this.options.retryInitialMs * 2 ** (attempt - 1),
        );
        this.hooks.failed(error, attempt, delay);
        await sleep(delay, undefined, { signal: this.abort.signal }).catch(() => undefined);
        if (this.abandoned) return null;
      }
    }
  }

  private async splitTooLarge(
    batch: PendingRecord[],
    error: RelayError,
  ): Promise<PendingRecord[] | null> {
    const [only] = batch;
    if (batch.length === 1 && only) {
      if (this.replacements.has(only)) {
        this.abandoned = true;
        this.hooks.failed(error, 1, null);
        return null;
      }
      const replacement = this.hooks.tooLarge(only, error);
      this.replacements.add(replacement);
      return this.sendWithRetry([replacement]);
    }
    const half = Math.ceil(batch.length / 2);
    const first = await this.sendWithRetry(batch.slice(0, half));
    if (!first || this.abandoned) return first;
    return [...first, ...((await this.sendWithRetry(batch.slice(half))) ?? [])];
  }
}
