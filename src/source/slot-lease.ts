/**
 * Whether this relay still owns its slot, asked before every Kafka request.
 *
 * A relay that was frozen (SIGSTOP, a paused VM, a long stall) past `wal_sender_timeout` has
 * lost its walsender, and a standby may have taken the slot over and published newer events.
 * When it thaws, its batch in hand is older than what the standby sent: sending it would put a
 * key's events out of order (X1 X2 X3 X2). In at-least-once mode nothing in Kafka fences it, so
 * the relay asks before it sends, and drops a batch it no longer owns (the new owner sends those
 * events again from the slot's confirmed position).
 *
 * Asking Postgres before every request would cost a round trip each; instead, contact with the
 * walsender vouches for the slot for a short lease. A gap in the relay's own clock (its event
 * loop did not run: it was frozen) voids the lease, and so do frames that arrive after the gap,
 * which may have waited in the socket from before: only Postgres's `active_pid` restores it.
 *
 * What it cannot close: a relay frozen between this check and the write of its request to the
 * socket (microseconds to a few milliseconds of asynchronous steps) sends that one request when
 * it thaws. Exactly-once mode does not depend on this check: a fenced producer commits nothing.
 */
import { performance } from 'node:perf_hooks';

export interface SlotLeaseOptions {
  /** The walsender of this relay's replication connection. */
  walsenderPid: number;
  /** The process streaming from the slot now, from Postgres (null: none). */
  activePid: () => Promise<number | null>;
  /** True once the replication connection has ended. */
  closed: () => boolean;
}

/** How often the clock is read to notice that the process did not run. */
const TICK_MS = 200;
/** A gap this long between two ticks means the process was frozen or stalled. */
const STALL_MS = 1_000;
/** How long contact with the walsender vouches for the slot (statuses are asked for every second). */
const LEASE_MS = 2_000;

export class SlotLease {
  private readonly options: SlotLeaseOptions;
  private lastTick = performance.now();
  private validUntil = 0;
  /** The clock jumped: only Postgres's answer, not a frame, makes the lease valid again. */
  private suspect = false;
  private readonly timer: NodeJS.Timeout;

  constructor(options: SlotLeaseOptions) {
    this.options = options;
    this.timer = setInterval(() => this.observeClock(), TICK_MS);
    this.timer.unref();
  }

  /** A frame from the walsender arrived. */
  contact(): void {
    const now = this.observeClock();
    if (!this.suspect) this.validUntil = now + LEASE_MS;
  }

  /** True when this relay may still send: its walsender holds the slot. */
  async owned(): Promise<boolean> {
    const now = this.observeClock();
    // Within the lease, a connection that just ended (Postgres restarting, a network cut) still
    // vouches: nobody can take the slot over before Postgres has noticed, and the lease ends
    // sooner than wal_sender_timeout. Past it, only our live walsender does.
    if (!this.suspect && now < this.validUntil) return true;
    if (this.options.closed()) return false;
    const pid = await this.options.activePid().catch(() => undefined);
    if (this.options.closed() || pid !== this.options.walsenderPid) return false;
    this.suspect = false;
    this.validUntil = performance.now() + LEASE_MS;
    return true;
  }

  close(): void {
    clearInterval(this.timer);
  }

  private observeClock(): number {
    const now = performance.now();
    if (now - this.lastTick > STALL_MS) this.suspect = true;
    this.lastTick = now;
    return now;
  }
}
