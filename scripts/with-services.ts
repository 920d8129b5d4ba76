/**
 * node scripts/with-services.ts -- <command...>
 *
 * Starts Postgres, Kafka and a schema registry once (see scripts/services/index.ts), runs the command with
 *   RELAY_TEST_PG_URL, RELAY_TEST_KAFKA_BROKERS  where the servers are;
 *   RELAY_TEST_REGISTRY_URL                       the schema registry's Confluent-compatible API
 *                                                 ('' when there is none);
 *   RELAY_TEST_SERVICES_STATE                     a JSON file through which test processes
 *                                                 attach and stop/start the same servers;
 * then stops and removes the servers, and exits with the command's exit code. `node --test` runs
 * every test file in its own process, and this is how they share one broker.
 *
 * Signals: SIGINT/SIGTERM/SIGHUP are passed to the command; the servers are torn down once it
 * has exited. A second signal kills the command outright.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServices, type Services } from './services/index.ts';

const HANDLED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Signals received so far, and where to pass the next one (the running command, if any). */
interface SignalState {
  received: NodeJS.Signals[];
  forward?: (signal: NodeJS.Signals) => void;
}

function parseCommand(argv: string[]): string[] {
  const command = argv[0] === '--' ? argv.slice(1) : argv;
  if (command.length > 0) return command;
  process.stderr.write('usage: node scripts/with-services.ts -- <command> [args...]\n');
  process.exit(2);
}

/** Handlers are installed before anything starts, so a signal never skips the teardown. */
function catchSignals(): SignalState {
  const state: SignalState = { received: [] };
  for (const signal of HANDLED_SIGNALS) {
    process.on(signal, () => {
      state.received.push(signal);
      state.forward?.(state.received.length > 1 ? 'SIGKILL' : signal);
    });
  }
  return state;
}

function childEnv(services: Services, statePath: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    RELAY_TEST_PG_URL: services.pgUrl,
    RELAY_TEST_KAFKA_BROKERS: services.kafkaBrokers.join(','),
    RELAY_TEST_REGISTRY_URL: services.registryUrl,
    RELAY_TEST_SERVICES_STATE: statePath,
  };
}

/** Resolves with the exit code a shell would report: the code, or 128 + signal number. */
function runCommand(command: string[], env: NodeJS.ProcessEnv, signals: SignalState) {
  const [file = '', ...args] = command;
  return new Promise<number>((resolve) => {
    const child = spawn(file, args, { stdio: 'inherit', env });
    signals.forward = (signal) => child.kill(signal);
    child.once('error', (err) => {
      process.stderr.write(`services: cannot run ${file}: ${err.message}\n`);
      resolve(127);
    });
    child.once('exit', (code, signal) => {
      signals.forward = undefined;
      resolve(code ?? signalExitCode(signal ?? 'SIGKILL'));
    });
  });
}

function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

function describe(err: unknown): string {
  if (err instanceof AggregateError) return err.errors.map(describe).join('\n');
  if (!(err instanceof Error)) return String(err);
  return err.cause ? `${err.message}\n  caused by: ${describe(err.cause)}` : err.message;
}

async function main(): Promise<number> {
  const command = parseCommand(process.argv.slice(2));
  const signals = catchSignals();
  const stateDir = await mkdtemp(join(tmpdir(), 'outbox-relay-services-'));
  const statePath = join(stateDir, 'state.json');
  let services: Services | undefined;
  let code = 1;
  try {
    services = await startServices({ statePath });
    const [early] = signals.received;
    code = early
      ? signalExitCode(early)
      : await runCommand(command, childEnv(services, statePath), signals);
  } catch (err) {
    process.stderr.write(`services: ${describe(err)}\n`);
  } finally {
    code = await tearDown(services, code);
    await rm(stateDir, { recursive: true, force: true });
  }
  const [signal] = signals.received;
  return code === 0 && signal ? signalExitCode(signal) : code;
}

/** A failed teardown fails the run: leftover servers are a bug worth a red build. */
async function tearDown(services: Services | undefined, code: number): Promise<number> {
  try {
    await services?.close();
    return code;
  } catch (err) {
    process.stderr.write(`services: ${describe(err)}\n`);
    return code === 0 ? 1 : code;
  }
}

process.exit(await main());
