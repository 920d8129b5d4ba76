/**
 * The daemon's end. One owner for every way `outbox-relay run` stops, so that each one ends in
 * exit() with a documented code within a stated bound, whatever is still pending (kafkajs
 * retries, sockets, timers):
 *
 *   SIGTERM/SIGINT   the clean stop: read to the end of the current transaction, drain, report
 *                    the durable LSN, close, exit 0. Not done within `shutdownTimeoutMs`: say so,
 *                    close, exit 3 (what Kafka did not acknowledge is read again after a restart).
 *   second signal    stop waiting for the drain: close, exit 3 (0 if the drain had finished).
 *   any later one    exit at once with the code already decided.
 *   fatal error      log it, tell the operator what to do, close, exit 1 (2 for configuration).
 *
 * Closing (replication connection, producer, HTTP server) is best effort and gets at most
 * CLOSE_BOUND_MS, then the process exits regardless. So a signal ends the process within
 * `shutdownTimeoutMs + CLOSE_BOUND_MS`, and a fatal error within CLOSE_BOUND_MS of being met.
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from './logger.ts';

/** How long closing may take after the outcome is decided, before exit() regardless. */
export const CLOSE_BOUND_MS = 2000;

/** What the supervisor runs: the daemon's work, and how to stop it cleanly. */
export interface Daemon {
  /** Settles when the work ends: after stop(), or with a fatal error. */
  readonly running: Promise<void>;
  /** The clean stop; resolves once Kafka holds everything read, with that position. */
  stop(): Promise<{ durableLsn: string }>;
}

export interface SupervisorOptions {
  logger: Logger;
  shutdownTimeoutMs: number;
  /** Exit codes: a clean stop, and a stop that did not finish in time. */
  codes: { ok: number; shutdownTimeout: number };
  /** Tells the operator what went wrong and what to do; returns the exit code. */
  report(error: unknown): number;
  /** Releases connections, producer and servers; given at most `closeBoundMs`. */
  close(): Promise<unknown>;
  exit?: (code: number) => void;
  closeBoundMs?: number;
  /** Where signals come from (the process; an emitter in unit tests). */
  signals?: Pick<EventEmitter, 'on' | 'off'>;
}

type Outcome = { kind: 'ended' } | { kind: 'failed'; error: unknown } | { kind: 'signal' };

export class Supervisor {
  private readonly options: SupervisorOptions;
  private readonly log: Logger;
  private readonly exit: (code: number) => void;
  private readonly signals: Pick<EventEmitter, 'on' | 'off'>;
  private readonly signalled = Promise.withResolvers<Outcome>();
  /** Resolved by a second signal: stop waiting for the drain. */
  private readonly cut = Promise.withResolvers<void>();
  private stopping = false;
  private cutShort = false;
  private decided: number | null = null;

  /** Installs the signal handlers: from here on, this object decides when the process ends. */
  constructor(options: SupervisorOptions) {
    this.options = options;
    this.log = options.logger.child({ stage: 'lifecycle' });
    this.exit = options.exit ?? ((code) => process.exit(code));
    this.signals = options.signals ?? process;
    this.signals.on('SIGTERM', this.onSignal);
    this.signals.on('SIGINT', this.onSignal);
  }

  /** Supervises the daemon until exit(); resolves with the exit code once exit() was called. */
  async supervise(daemon: Daemon): Promise<number> {
    const outcome = await Promise.race([
      daemon.running.then(
        (): Outcome => ({ kind: 'ended' }),
        (error: unknown): Outcome => ({ kind: 'failed', error }),
      ),
      this.signalled.promise,
    ]);
    let code: number;
    if (outcome.kind === 'failed') code = this.failed(outcome.error);
    else if (outcome.kind === 'ended') code = this.options.codes.ok;
    else code = await this.drain(daemon);
    return this.end(code);
  }

  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (this.decided !== null) {
      this.log.warn({ signal, code: this.decided }, 'signal while closing: exiting now');
      this.exit(this.decided);
    } else if (this.stopping) {
      this.log.warn({ signal }, 'second signal: no longer waiting for in-flight events');
      this.cutShort = true;
      this.cut.resolve();
    } else {
      this.stopping = true;
      this.log.info({ signal }, 'stopping: finishing in-flight events');
      this.signalled.resolve({ kind: 'signal' });
    }
  };

  /** The clean stop, within the shutdown timeout or until a second signal. */
  private async drain(daemon: Daemon): Promise<number> {
    const { shutdownTimeoutMs: timeoutMs, codes } = this.options;
    const deadline = Date.now() + timeoutMs;
    let stopped: { value: { durableLsn: string } } | null;
    try {
      stopped = await within(daemon.stop(), timeoutMs, this.cut.promise);
    } catch (error) {
      return this.failed(error);
    }
    if (!stopped) {
      this.log.error(
        { timeoutMs, cutShort: this.cutShort },
        this.cutShort
          ? 'stop cut short by a second signal; unacknowledged events are sent again after a restart'
          : 'shutdown timed out; unacknowledged events are sent again after a restart',
      );
      return codes.shutdownTimeout;
    }
    // Everything read is in Kafka: the rest (closing the stream, leaving the loop) is tidying.
    await within(daemon.running, Math.max(0, deadline - Date.now()), this.cut.promise).catch(
      () => undefined,
    );
    this.log.info(
      { durableLsn: stopped.value.durableLsn },
      'stopped cleanly; Kafka holds everything up to durableLsn',
    );
    return codes.ok;
  }

  private failed(error: unknown): number {
    this.log.fatal({ err: error }, 'relay failed');
    return this.options.report(error);
  }

  /** Closes for at most the close bound, then exits with `code` regardless. */
  private async end(code: number): Promise<number> {
    this.decided = code;
    const boundMs = this.options.closeBoundMs ?? CLOSE_BOUND_MS;
    const closed = await within(
      Promise.resolve().then(() => this.options.close()),
      boundMs,
    ).catch((error: unknown) => {
      this.log.warn({ err: error }, 'closing failed');
      return { value: undefined };
    });
    if (!closed) this.log.warn({ boundMs }, 'closing took too long; exiting anyway');
    this.signals.off('SIGTERM', this.onSignal);
    this.signals.off('SIGINT', this.onSignal);
    this.exit(code);
    return code;
  }
}

/**
 * `{ value }` when `work` resolves within `ms` and before `cut`; null otherwise. Rejects as `work`
 * does. The timer does not outlive the race.
 */
export async function within<T>(
  work: Promise<T>,
  ms: number,
  cut?: Promise<unknown>,
): Promise<{ value: T } | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  try {
    return await Promise.race([
      work.then((value) => ({ value })),
      late,
      ...(cut ? [cut.then(() => null)] : []),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
