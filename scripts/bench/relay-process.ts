/**
 * `outbox-relay run` as a child process through the real CLI, as an operator runs it: the demo
 * and the benchmark see its exit code, its peak RSS and its own account of what it stopped at.
 * Its JSON logs (stdout) and anything on stderr go to a file, never to the terminal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { CLI, NODE_FLAGS } from '../../test/support/relay.ts';

export type LogLine = Record<string, unknown>;

export interface RelayExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RelayStopped extends RelayExit {
  /** The durable LSN of the relay's last log line that names one, as it printed it. */
  durableLsn: string | null;
}

export interface RelayProcess {
  readonly pid: number;
  readonly logFile: string;
  readonly exited: Promise<RelayExit>;
  /** The health and metrics port, from the first log line that names one. */
  readonly httpPort: Promise<number>;
  /** The first log line (so far or to come) that has this field. */
  logWith(field: string, timeoutMs?: number): Promise<LogLine>;
  /** The kernel's peak resident set size (VmHWM) in MiB; null once the process is gone. */
  peakRssMb(): Promise<number | null>;
  /** SIGTERM, then SIGKILL if it has not exited after graceMs. */
  stop(graceMs?: number): Promise<RelayStopped>;
}

/** Every relay we started and that still runs, for the exit handler and a second Ctrl-C. */
const live = new Set<ChildProcess>();

/** SIGKILLs every relay still running. Synchronous, so it also works in an 'exit' handler. */
export function killRelays(): void {
  for (const child of live) child.kill('SIGKILL');
}

process.on('exit', killRelays);

export function startRelayProcess(env: Record<string, string>, logFile: string): RelayProcess {
  // Exactly this environment (plus PATH): settings from the caller's shell must not leak in.
  const child = spawn(process.execPath, [...NODE_FLAGS, CLI, 'run'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const log = createWriteStream(logFile, { flags: 'a' });
  const lines = watchLogLines(child, log);
  const exited = exitOf(child, log);
  const httpPort = lines.withField('httpPort').then((line) => Number(line.httpPort));
  httpPort.catch(() => undefined);
  // One SIGTERM only: the relay handles the first signal of each kind, and a repeated one would
  // kill it before its clean shutdown.
  let stopping: Promise<RelayExit> | undefined;
  return {
    pid: child.pid ?? -1,
    logFile,
    exited,
    httpPort,
    logWith: (field, timeoutMs) => lines.withField(field, timeoutMs, exited),
    peakRssMb: () => peakRssMb(child.pid),
    stop: async (graceMs = 40_000) => {
      const exit = await (stopping ??= stopChild(child, exited, graceMs));
      return { ...exit, durableLsn: lines.lastString('durableLsn') };
    },
  };
}

function exitOf(child: ChildProcess, log: WriteStream): Promise<RelayExit> {
  return new Promise((resolve) => {
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      live.delete(child);
      log.end();
      resolve({ code, signal });
    };
    child.once('exit', done);
    child.once('error', (error) => {
      log.write(`cannot start the relay: ${error.message}\n`);
      done(null, null);
    });
  });
}

interface LogLines {
  withField(field: string, timeoutMs?: number, exited?: Promise<RelayExit>): Promise<LogLine>;
  lastString(field: string): string | null;
}

function watchLogLines(child: ChildProcess, log: WriteStream): LogLines {
  const seen: LogLine[] = [];
  const waiters = new Set<{ field: string; resolve: (line: LogLine) => void }>();
  child.stderr?.pipe(log, { end: false });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    log.write(`${text}\n`);
    const line = parseLine(text);
    seen.push(line);
    for (const w of waiters) {
      if (!(w.field in line)) continue;
      waiters.delete(w);
      w.resolve(line);
    }
  });
  return {
    withField: (field, timeoutMs = 60_000, exited) => {
      const found = seen.find((line) => field in line);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = { field, resolve: (line: LogLine) => (clearTimeout(timer), resolve(line)) };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`the relay logged no "${field}" within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(waiter);
        void exited?.then(({ code }) =>
          reject(new Error(`the relay exited (code ${code}) before logging "${field}"`)),
        );
      });
    },
    lastString: (field) => {
      const line = seen.findLast((l) => typeof l[field] === 'string');
      return line ? (line[field] as string) : null;
    },
  };
}

function parseLine(text: string): LogLine {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as LogLine) : { msg: text };
  } catch {
    return { msg: text };
  }
}

async function stopChild(
  child: ChildProcess,
  exited: Promise<RelayExit>,
  graceMs: number,
): Promise<RelayExit> {
  if (!live.has(child)) return exited;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(resolve, graceMs, 'late')));
  const first = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (first === 'late') child.kill('SIGKILL');
  return exited;
}

async function peakRssMb(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kib = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  return kib === undefined ? null : Math.round((Number(kib) / 1024) * 10) / 10;
}
