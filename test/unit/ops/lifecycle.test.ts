import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { RelayError } from '../../../src/domain/errors.ts';
import { createLogger } from '../../../src/ops/logger.ts';
import { Supervisor, type Daemon } from '../../../src/ops/lifecycle.ts';

const CODES = { ok: 0, shutdownTimeout: 3 };
const never = new Promise<never>(() => undefined);

function supervisor(options: { close?: () => Promise<unknown>; timeoutMs?: number } = {}) {
  const signals = new EventEmitter();
  const exits: number[] = [];
  const closed: string[] = [];
  const s = new Supervisor({
    logger: createLogger('silent'),
    shutdownTimeoutMs: options.timeoutMs ?? 100,
    codes: CODES,
    report: (error) => (error instanceof RelayError && error.code === 'CONFIG_INVALID' ? 2 : 1),
    close: options.close ?? (() => (closed.push('closed'), Promise.resolve())),
    exit: (code) => exits.push(code),
    closeBoundMs: 100,
    signals,
  });
  return { s, signals, exits, closed };
}

describe('the supervisor ends the daemon', () => {
  it('exits 0 after a clean stop on the first signal, having closed', async () => {
    const { s, signals, exits, closed } = supervisor();
    let stop: () => void = () => undefined;
    const daemon: Daemon = {
      running: new Promise<void>((resolve) => (stop = resolve)),
      stop: () => (stop(), Promise.resolve({ durableLsn: '0/10' })),
    };
    const ending = s.supervise(daemon);
    signals.emit('SIGTERM', 'SIGTERM');
    assert.equal(await ending, 0);
    assert.deepEqual(exits, [0]);
    assert.deepEqual(closed, ['closed']);
  });

  it('exits 3 when the stop does not finish within the shutdown timeout', async () => {
    const { s, signals, exits } = supervisor({ timeoutMs: 50 });
    const ending = s.supervise({ running: never, stop: () => never });
    signals.emit('SIGTERM', 'SIGTERM');
    assert.equal(await ending, 3);
    assert.deepEqual(exits, [3]);
  });

  it('exits 3 at once on a second signal, without waiting for the timeout', async () => {
    const { s, signals, exits } = supervisor({ timeoutMs: 60_000 });
    const started = Date.now();
    const ending = s.supervise({ running: never, stop: () => never });
    signals.emit('SIGTERM', 'SIGTERM');
    signals.emit('SIGINT', 'SIGINT');
    assert.equal(await ending, 3);
    assert.deepEqual(exits, [3]);
    assert.ok(Date.now() - started < 30_000);
  });

  it('exits with the error code after a fatal error, whatever closing does', async () => {
    const { s, exits } = supervisor({ close: () => never });
    const failure = Promise.reject(
      new RelayError('PG_SLOT', 'replication slot "s" does not exist'),
    );
    assert.equal(await s.supervise({ running: failure, stop: () => never }), 1);
    assert.deepEqual(exits, [1]);
  });

  it('exits at once, with the code decided, on a signal while closing', async () => {
    const { s, signals, exits } = supervisor({ close: () => never });
    const failure = Promise.reject(new RelayError('CONFIG_INVALID', 'bad'));
    const ending = s.supervise({ running: failure, stop: () => never });
    await new Promise((r) => setTimeout(r, 10));
    signals.emit('SIGTERM', 'SIGTERM');
    assert.deepEqual(exits, [2]);
    await ending;
  });
});
