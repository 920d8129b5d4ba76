/**
 * Health that reports progress, not just that the process is up.
 *
 * - live: the replication loop or the publisher did something (message, keepalive, Kafka ack or
 *   publish attempt) within the liveness timeout. A stuck loop fails it; a broker outage does not,
 *   because the publisher keeps retrying and a restart would not help.
 * - ready: the slot is streaming and the producer is connected; or this relay is a standby,
 *   waiting for the active relay's slot. A standby answers 200 with status "standby", so that a
 *   rolling update, which waits for new pods to be ready, does not stall behind it.
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

export class HealthState {
  stream: StreamState = 'starting';
  producerConnected = false;
  lastError: string | null = null;
  /** Set while standing by. */
  slotHolder: SlotHolder | null = null;
  private lastProgressAt = Date.now();
  private readonly livenessTimeoutMs: number;

  constructor(livenessTimeoutMs: number) {
    this.livenessTimeoutMs = livenessTimeoutMs;
  }

  progress(): void {
    this.lastProgressAt = Date.now();
  }

  live(now = Date.now()): { ok: boolean; idleMs: number } {
    const idleMs = now - this.lastProgressAt;
    return { ok: idleMs <= this.livenessTimeoutMs && this.stream !== 'stopped', idleMs };
  }

  ready(): { ok: boolean; status: ReadyStatus; stream: StreamState; producerConnected: boolean } {
    const status = readyStatus(this.stream, this.producerConnected);
    const ok = status === 'ready' || status === 'standby';
    return { ok, status, stream: this.stream, producerConnected: this.producerConnected };
  }
}

export type ReadyStatus = 'ready' | 'standby' | 'degraded' | 'not-ready';

function readyStatus(stream: StreamState, producerConnected: boolean): ReadyStatus {
  if (stream === 'standby') return 'standby';
  if (stream === 'streaming') return producerConnected ? 'ready' : 'degraded';
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
    if (path === '/healthz') {
      const live = state.live();
      json(live.ok ? 200 : 503, { status: live.ok ? 'live' : 'stalled', idleMs: live.idleMs });
    } else if (path === '/readyz') {
      const ready = state.ready();
      const holder = ready.status === 'standby' ? { slotHolder: state.slotHolder } : {};
      json(ready.ok ? 200 : 503, { ...ready, lastError: state.lastError, ...holder });
    } else if (path === '/metrics') {
      registry.metrics().then(
        (text) => {
          response.writeHead(200, { 'content-type': registry.contentType });
          response.end(text);
        },
        (error: unknown) => json(500, { error: String(error) }),
      );
    } else {
      json(404, { error: 'not found', paths: ['/healthz', '/readyz', '/metrics'] });
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
