import { spawn } from 'node:child_process';
import { open, readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs argv to completion; rejects with the command and the tail of its output on failure. */
export function run(
  argv: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  const [file, ...args] = argv;
  if (!file) return Promise.reject(new Error('run: empty command'));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', (err) => reject(new Error(`cannot run ${file}: ${err.message}`)));
    child.once('close', (code, signal) => {
      if (code === 0) return resolve({ stdout, stderr });
      const why = signal ? `was killed by ${signal}` : `exited with ${code}`;
      reject(new Error(`${argv.join(' ')} ${why}:\n${tail(stderr || stdout)}`));
    });
  });
}

function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Whether pid is a live process (a zombie counts as dead: it waits only for its parent to reap
 * it). With a marker, the command line must also contain it, which guards against a pid that
 * was reused after our server died.
 */
export async function isAlive(pid: number, marker?: string): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return signalZero(pid);
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (state === 'Z' || state === 'X') return false;
  if (!marker) return true;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.split('\0').includes(marker);
}

/** Fallback where there is no /proc (macOS): existence only. */
function signalZero(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves true once pid is gone, false if it is still alive after timeoutMs. */
export async function waitForExit(
  pid: number,
  timeoutMs: number,
  marker?: string,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await isAlive(pid, marker)) {
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
  return true;
}

/**
 * SIGTERM, then SIGKILL once graceMs has passed (at once when graceMs is 0). Only signals pid while
 * it still carries the marker, never a process group or a name.
 */
export async function terminate(pid: number, graceMs: number, marker?: string): Promise<void> {
  if (!(await isAlive(pid, marker))) return;
  if (graceMs > 0) {
    sendSignal(pid, 'SIGTERM');
    if (await waitForExit(pid, graceMs, marker)) return;
  }
  sendSignal(pid, 'SIGKILL');
  if (!(await waitForExit(pid, 10_000, marker))) throw new Error(`process ${pid} survived SIGKILL`);
}

function sendSignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * Live pids with `argument` as one whole argv element. Used with a path unique to one run (a temp
 * config file) to find a server whose pid never reached the state file, e.g. when the test
 * process that started it was killed in between. Empty where there is no /proc.
 */
export async function pidsWithArgument(argument: string): Promise<number[]> {
  const entries = await readdir('/proc').catch(() => [] as string[]);
  const pids = entries.filter((name) => /^\d+$/.test(name)).map(Number);
  const matches = await Promise.all(pids.map((pid) => isAlive(pid, argument)));
  return pids.filter((_, i) => matches[i]);
}

/**
 * Starts argv in its own session with stdout and stderr appended to outFile, and resolves with
 * its pid once it runs: the server outlives the process that started it (a test file that
 * restarts it), and a Ctrl-C at the terminal reaches only the wrapper, which stops it itself.
 */
export async function spawnDetached(argv: string[], cwd: string, outFile: string) {
  const [file, ...args] = argv;
  if (!file) throw new Error('spawnDetached: empty command');
  const out = await open(outFile, 'a');
  try {
    const child = spawn(file, args, { cwd, detached: true, stdio: ['ignore', out.fd, out.fd] });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.unref();
    return child.pid ?? 0;
  } finally {
    await out.close();
  }
}
