/**
 * Which LSN Kafka holds durably: the one correctness rule of the relay.
 *
 * Invariant: `durableLsn` is the commit end LSN of a transaction T only when every event of T
 * and of every transaction before T has been acknowledged by Kafka. Transactions arrive in
 * commit order (logical decoding guarantees it), but Kafka acknowledgements may complete in any
 * order, so we keep a queue of open transactions and advance over its completed prefix only.
 *
 * When nothing is open or in flight, the server's sent position may be reported as durable
 * (`observeIdle`): everything before it was decoded and sent to us, and none of it was ours, so
 * letting the slot advance there loses nothing and keeps WAL from piling up behind an idle
 * outbox while other tables take writes.
 *
 * Bounded: a transaction committed with nothing left in flight (an empty one, which Postgres 14
 * sends for every transaction, and any publication with other tables sends too) is folded into
 * the committed transaction before it, which takes over its commit end LSN. So however many such
 * transactions arrive while one event waits for Kafka, the queue holds one entry per transaction
 * that still has events in flight, plus the one being read.
 */
import { Fifo } from '../domain/fifo.ts';
import { maxLsn, type Lsn, INVALID_LSN } from '../domain/lsn.ts';

interface OpenTransaction {
  readonly seq: number;
  pending: number;
  readonly commitTimeMicros: bigint;
  /** Set at COMMIT; until then the transaction may still gain events. */
  endLsn: Lsn | null;
}

export class AckTracker {
  private readonly open = new Map<number, OpenTransaction>();
  /** Sequence numbers in commit order; the front is the oldest open transaction. */
  private readonly order = new Fifo<number>();
  private durable: Lsn;
  private lastSeq = 0;
  private inFlight = 0;

  constructor(startLsn: Lsn = INVALID_LSN) {
    this.durable = startLsn;
  }

  /** The highest LSN that Kafka holds everything before. Never goes backwards. */
  get durableLsn(): Lsn {
    return this.durable;
  }

  /** Events handed to Kafka and not yet acknowledged. */
  get inFlightEvents(): number {
    return this.inFlight;
  }

  /** True when no transaction is open or waiting for Kafka. */
  get idle(): boolean {
    return this.order.length === 0;
  }

  /** Transactions in the queue: open, or committed and waiting for Kafka. */
  get openTransactions(): number {
    return this.order.length;
  }

  /** Commit time of the oldest transaction Kafka does not hold yet, or null when idle. */
  get oldestOpenCommitTimeMicros(): bigint | null {
    if (this.idle) return null;
    return this.open.get(this.order.peek() as number)?.commitTimeMicros ?? null;
  }

  /** Opens the next transaction (at BEGIN) and returns its sequence number. */
  begin(commitTimeMicros = 0n): number {
    const seq = ++this.lastSeq;
    this.open.set(seq, { seq, pending: 0, commitTimeMicros, endLsn: null });
    this.order.push(seq);
    return seq;
  }

  /** Records that `count` more events of transaction `seq` were handed to Kafka. */
  add(seq: number, count = 1): void {
    const tx = this.get(seq);
    if (tx.endLsn !== null) throw new Error(`transaction ${seq} already committed`);
    tx.pending += count;
    this.inFlight += count;
  }

  /** Closes transaction `seq` at COMMIT with its commit end LSN. */
  commit(seq: number, endLsn: Lsn): void {
    const tx = this.get(seq);
    tx.endLsn = endLsn;
    this.foldIntoPrevious(tx);
    this.advance();
  }

  /** Records that Kafka acknowledged `count` events of transaction `seq`. */
  acknowledge(seq: number, count = 1): void {
    const tx = this.get(seq);
    if (count > tx.pending) throw new Error(`transaction ${seq}: more acks than events`);
    tx.pending -= count;
    this.inFlight -= count;
    this.advance();
  }

  /** Lets the slot move with the server while nothing of ours is outstanding. */
  observeIdle(serverSentLsn: Lsn): void {
    if (this.idle) this.durable = maxLsn(this.durable, serverSentLsn);
  }

  /**
   * A committed transaction with nothing in flight at the back of the queue adds only its end
   * LSN: the committed transaction before it can end there instead. Once that one is complete,
   * so is this one (it can gain no events), so the durable LSN moves exactly as it would have.
   */
  private foldIntoPrevious(tx: OpenTransaction): void {
    if (tx.pending > 0 || this.order.length < 2) return;
    if (this.order.peek(this.order.length - 1) !== tx.seq) return;
    const previous = this.open.get(this.order.peek(this.order.length - 2) as number);
    if (!previous || previous.endLsn === null) return;
    previous.endLsn = maxLsn(previous.endLsn, tx.endLsn as Lsn);
    this.order.pop();
    this.open.delete(tx.seq);
  }

  private get(seq: number): OpenTransaction {
    const tx = this.open.get(seq);
    if (!tx) throw new Error(`transaction ${seq} is not open`);
    return tx;
  }

  private advance(): void {
    for (let seq = this.order.peek(); seq !== undefined; seq = this.order.peek()) {
      const tx = this.open.get(seq) as OpenTransaction;
      if (tx.endLsn === null || tx.pending > 0) break;
      this.durable = maxLsn(this.durable, tx.endLsn);
      this.open.delete(seq);
      this.order.shift();
    }
  }
}
