/**
 * Liveness and readiness of the relay.
 *
 * - live (`/livez`, and `/healthz` as its alias): the process runs and answers. It depends on
 *   nothing outside the process, on purpose: a database or broker outage that failed liveness
 *   would have the orchestrator restart every relay at once, in a loop, while the relay already
 *   retries by itself and a restart cannot help. This departs from CONVENTIONS item 11 (liveness
 *   fails when the replication loop makes no progress): that progress is now a readiness reason.
 * - ready (`/readyz`): the slot is streaming, the producer is connected, the replication loop or
 *   the publisher made progress within the timeout, and the slot's last health check (see
 *   pipeline/slot-health.ts) is recent and found it valid; or this relay is a standby, waiting for
 *   the active relay's slot. A standby answers 200 with status "standby", so that a rolling
 *   update, which waits for new pods to be ready, does not stall behind it. Every unmet condition
 *   is listed in `failing`, with the state of Postgres, Kafka and the slot beside it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export type StreamState =
  'starting' | 'streaming' | 'standby' | 'reconnecting' | 'stopping' | 'stopped';

/** On a standby: who streams from the slot, since when, and how far behind Postgres it is. */
export interface SlotHolder {
  readonly pid: number | null;
  readonly applicationName: string | null;
  readonly clientAddr: string | null;
  /** When the holder's walsender started (ISO 8601), null when unknown. */
  readonly since: string | null;
  readonly lagBytes: number | null;
}

/** The slot as the last periodic check found it in pg_replication_slots. */
export interface SlotHealth {
  /** Its active_pid is the walsender of this relay's replication connection. */
  readonly heldByUs: boolean;
  /** reserved, extended, unreserved or lost. */
  readonly walStatus: string | null;
  /** WAL that can still be written before the slot is lost; null: no max_slot_wal_keep_size. */
  readonly safeWalSizeBytes: number | null;
  /** 16+; null before. */
  readonly conflicting: boolean | null;
  /** Why PostgreSQL invalidated the slot (before 17 read from wal_status and conflicting), or null. */
  readonly invalidationReason: string | null;
  /** WAL bytes between the server's position and the slot's confirmed position. */
  readonly lagBytes: number | null;
  /** When the check read this (ISO 8601). */
  readonly checkedAt: string;
}

/** A check older than this many intervals is stale: the check cannot reach Postgres. */
const STALE_INTERVALS = 3;

export class HealthState {
  stream: StreamState = 'starting';
  producerConnected = false;
  /** The last reason the replication session ended; cleared when streaming again. */
  postgresError: string | null = null;
  /** The last failed Kafka request; cleared by the next acknowledged one. */
  kafkaError: string | null = null;
  /** Set while standing by. */
  slotHolder: SlotHolder | null = null;
  /** The last successful slot check; null before the first. */
  slot: SlotHealth | null = null;
  /** Why the last slot check failed; null once one succeeds. */
  slotCheckError: string | null = null;
  private slotCheckSince: number | null = null;
  private slotCheckIntervalMs = 0;
  private lastProgressAt = Date.now();
  private readonly progressTimeoutMs: number;

  constructor(progressTimeoutMs: number) {
    this.progressTimeoutMs = progressTimeoutMs;
  }

  /** The last error met, Postgres's first. */
  get lastError(): string | null {
    return this.postgresError ?? this.kafkaError;
  }

  progress(): void {
    this.lastProgressAt = Date.now();
  }

  /** The slot is checked every `intervalMs` from now on: a check older than a few is stale. */
  slotChecksEvery(intervalMs: number, now = Date.now()): void {
    this.slotCheckIntervalMs = intervalMs;
    this.slotCheckSince = now;
  }

  /** The process runs; nothing outside it is asked (see the comment at the top). */
  live(now = Date.now()): { ok: boolean; idleMs: number } {
    return { ok: this.stream !== 'stopped', idleMs: now - this.lastProgressAt };
  }

  ready(now = Date.now()): Readiness {
    const failing = this.failing(now);
    const status = readyStatus(this.stream, failing.length);
    return {
      ok: status === 'ready' || status === 'standby',
      status,
      stream: this.stream,
      producerConnected: this.producerConnected,
      failing,
    };
  }

  /** The readiness answer's detail: each dependency, and the slot with whether its check is stale. */
  dependencies(now = Date.now()) {
    const slotStale = this.slotStale(now);
    return {
      lastError: this.lastError,
      postgres: {
        ok: this.stream === 'streaming' || this.stream === 'standby',
        stream: this.stream,
        lastError: this.postgresError,
      },
      kafka: { ok: this.producerConnected, lastError: this.kafkaError },
      slot: this.slot ? { ...this.slot, stale: slotStale } : null,
    };
  }

  private failing(now: number): string[] {
    const failing: string[] = [];
    if (this.stream !== 'streaming' && this.stream !== 'standby')
      failing.push(withError(`postgres: replication ${this.stream}`, this.postgresError));
    if (!this.producerConnected)
      failing.push(withError('kafka: producer not connected', this.kafkaError));
    const idleMs = now - this.lastProgressAt;
    if (this.stream === 'streaming' && idleMs > this.progressTimeoutMs)
      failing.push(`no progress: nothing from Postgres or Kafka for ${idleMs} ms`);
    if (this.slot?.invalidationReason)
      failing.push(`slot: invalidated by PostgreSQL (${this.slot.invalidationReason})`);
    if (this.slotStale(now)) {
      const age =
        now - (this.slot ? Date.parse(this.slot.checkedAt) : (this.slotCheckSince ?? now));
      failing.push(withError(`slot: not checked for ${age} ms`, this.slotCheckError));
    }
    return failing;
  }

  private slotStale(now: number): boolean {
    if (this.slotCheckIntervalMs <= 0 || this.slotCheckSince === null) return false;
    const last = this.slot ? Date.parse(this.slot.checkedAt) : this.slotCheckSince;
    return now - last > STALE_INTERVALS * this.slotCheckIntervalMs;
  }
}

function withError(reason: string, error: string | null): string {
  return error ? `${reason}: ${error}` : reason;
}

export type ReadyStatus = 'ready' | 'standby' | 'degraded' | 'not-ready';

export interface Readiness {
  readonly ok: boolean;
  readonly status: ReadyStatus;
  readonly stream: StreamState;
  readonly producerConnected: boolean;
  /** Every unmet condition; empty when ready. */
  readonly failing: readonly string[];
}

function readyStatus(stream: StreamState, failing: number): ReadyStatus {
  if (stream === 'standby') return failing === 0 ? 'standby' : 'degraded';
  if (stream === 'streaming') return failing === 0 ? 'ready' : 'degraded';
  return 'not-ready';
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHealthServer(
  state: HealthState,
  registry: Registry,
  options: { host: string; port: number },
): Promise<HealthServer> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (path === '/livez' || path === '/healthz') {
      const live = state.live();
      json(live.ok ? 200 : 503, { status: live.ok ? 'live' : 'stopped', idleMs: live.idleMs });
    } else if (path === '/readyz') {
      const ready = state.ready();
      const holder = ready.status === 'standby' ? { slotHolder: state.slotHolder } : {};
      json(ready.ok ? 200 : 503, { ...ready, ...state.dependencies(), ...holder });
    } else if (path === '/metrics') {
      registry.metrics().then(
        (text) => {
          response.writeHead(200, { 'content-type': registry.contentType });
          response.end(text);
        },
        (error: unknown) => json(500, { error: String(error) }),
      );
    } else {
      json(404, { error: 'not found', paths: ['/livez', '/healthz', '/readyz', '/metrics'] });
    }
  });
  await listen(server, options);
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function listen(server: Server, options: { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
}
