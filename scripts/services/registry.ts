/**
 * A throwaway Apicurio Registry 3 (see registry-dist.ts) whose Confluent-compatible API ("ccompat",
 * /apis/ccompat/v7) stands in for a Confluent Schema Registry in tests. Storage is Apicurio's
 * in-memory H2 database, so a stopped and started registry comes back on the same port empty:
 * a test that restarts it must register its schemas again.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireJava } from './kafka-libs.ts';
import { say, since } from './log.ts';
import { freePorts } from './net.ts';
import { isAlive, pidsWithArgument, spawnDetached, terminate } from './proc.ts';
import { ensureRegistryDist, type RegistryDist } from './registry-dist.ts';
import type { BasicAuth, LocalRegistryState, ServiceControl, StopOptions } from './types.ts';

export const CCOMPAT_PATH = '/apis/ccompat/v7';
const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 20_000;
/** Teardown throws the data away, so it does not wait long for a clean shutdown. */
const TEARDOWN_GRACE_MS = 5_000;

export interface RegistryOptions {
  /**
   * Require HTTP basic auth on every /apis/ path (Quarkus's embedded users, no OIDC server);
   * /health stays open. The user gets Apicurio's admin role.
   */
  basicAuth?: BasicAuth;
}

/**
 * Settings that make the ccompat API behave like Confluent's where Apicurio lets them, for the
 * local registry and the container alike:
 *  - legacy-id-mode off: ids are content ids, so one schema registered under two subjects has
 *    one id, as in Confluent (on, they are per-version global ids);
 *  - canonical hash: a schema that differs only in formatting finds the registered version
 *    (lookup and register) instead of 40403 or a new version. Unlike Confluent it also drops
 *    docs, so a schema whose only change is a doc gets the registered version's id back.
 * Compatibility stays Apicurio's default, none, unlike Confluent's BACKWARD: in Apicurio a subject
 * set to NONE has no rule and falls back to the global one, so a global BACKWARD (whether from
 * apicurio.rules.global.compatibility or PUT /config) could not be relaxed per subject. A test
 * that wants Confluent's default sets it on its subject: PUT /config/{subject} BACKWARD.
 */
export const CONFLUENT_LIKE_SETTINGS: Readonly<Record<string, string>> = {
  'apicurio.ccompat.legacy-id-mode.enabled': 'false',
  'apicurio.ccompat.use-canonical-hash': 'true',
};

/**
 * Quarkus reads this file at start (quarkus.config.locations) on top of the app's own defaults.
 * The pool sizes and the log-config poll (every second by default) are cut for 2-core machines.
 */
function registryProperties(state: LocalRegistryState): string {
  return [
    'quarkus.http.host=127.0.0.1',
    `quarkus.http.port=${state.port}`,
    ...Object.entries(CONFLUENT_LIKE_SETTINGS).map(([key, value]) => `${key}=${value}`),
    'apicurio.datasource.jdbc.initial-size=1',
    'apicurio.datasource.jdbc.min-size=1',
    'apicurio.datasource.jdbc.max-size=10',
    'apicurio.logconfigjob.every=60s',
    `apicurio.import.work-dir=${state.dir}`,
    `apicurio.storage.snapshot.location=${state.dir}`,
    ...basicAuthProperties(state.basicAuth),
    '',
  ].join('\n');
}

function basicAuthProperties(auth: BasicAuth | undefined): string[] {
  if (!auth) return [];
  return [
    'quarkus.http.auth.basic=true',
    'quarkus.security.users.embedded.enabled=true',
    'quarkus.security.users.embedded.plain-text=true',
    `quarkus.security.users.embedded.users.${auth.username}=${auth.password}`,
    `quarkus.security.users.embedded.roles.${auth.username}=sr-admin`,
    'quarkus.http.auth.permission.apis.paths=/apis/*',
    'quarkus.http.auth.permission.apis.policy=authenticated',
  ];
}

/**
 * C1 only and the serial collector: the registry serves a handful of small requests per test,
 * and on 2 cores C2 compilation and parallel GC threads only slow the start (~5 s to ~3 s).
 */
function javaCommand(dist: RegistryDist, state: LocalRegistryState): string[] {
  return [
    'java',
    '-Xmx256m',
    '-XX:TieredStopAtLevel=1',
    '-XX:+UseSerialGC',
    '-Djava.awt.headless=true',
    `-Djava.io.tmpdir=${state.dir}`,
    configArgument(state),
    '-jar',
    dist.runnerJar,
  ];
}

/** Also the marker that tells our JVM from an unrelated process that reused its pid. */
function configArgument(state: LocalRegistryState): string {
  return `-Dquarkus.config.locations=${state.configFile}`;
}

/** Fetches the distribution if needed and starts a registry in a new temp dir. */
export async function startLocalRegistry(opts: RegistryOptions = {}): Promise<LocalRegistryState> {
  await requireJava('Apicurio Registry 3', 'set RELAY_TEST_REGISTRY_URL to use a running registry');
  const dist = await ensureRegistryDist();
  const t0 = performance.now();
  const state = await prepare(dist, opts);
  try {
    await launch(state);
    await registryReady(state.url, readyOptions(state));
    const auth = state.basicAuth ? ', basic auth' : '';
    say(`apicurio registry ${dist.version} ready at ${state.url} in ${since(t0)}${auth}`);
    return state;
  } catch (err) {
    await removeLocalRegistry(state).catch(() => undefined);
    throw err;
  }
}

async function prepare(dist: RegistryDist, opts: RegistryOptions): Promise<LocalRegistryState> {
  const dir = await mkdtemp(join(tmpdir(), 'outbox-relay-registry-'));
  const [port = 0] = await freePorts(1);
  const state: LocalRegistryState = {
    type: 'local',
    version: dist.version,
    port,
    pid: 0,
    dir,
    configFile: join(dir, 'registry.properties'),
    logFile: join(dir, 'registry.log'),
    command: [],
    url: `http://127.0.0.1:${port}${CCOMPAT_PATH}`,
    ...(opts.basicAuth && { basicAuth: opts.basicAuth }),
  };
  state.command = javaCommand(dist, state);
  await writeFile(state.configFile, registryProperties(state), { mode: 0o600 });
  return state;
}

async function launch(state: LocalRegistryState): Promise<void> {
  state.pid = await spawnDetached(state.command, state.dir, state.logFile);
}

function readyOptions(state: LocalRegistryState): RegistryWaitOptions {
  return {
    alive: () => isAlive(state.pid, configArgument(state)),
    hint: `see ${state.logFile}`,
    ...(state.basicAuth && { basicAuth: state.basicAuth }),
  };
}

/**
 * The ServiceControl of a local registry. `latest` re-reads the shared state, because another
 * process may have started the registry again under a new pid; `save` records a new pid.
 */
export function localRegistryControl(
  latest: () => Promise<{ registry: LocalRegistryState; save: () => Promise<void> }>,
): ServiceControl {
  const stop = async (opts: StopOptions = {}) => {
    const { registry } = await latest();
    await terminate(registry.pid, opts.force ? 0 : STOP_GRACE_MS, configArgument(registry));
  };
  const start = async () => {
    const { registry, save } = await latest();
    if (await isAlive(registry.pid, configArgument(registry))) return;
    const t0 = performance.now();
    await launch(registry);
    await save();
    await registryReady(registry.url, readyOptions(registry));
    say(`apicurio registry started again (empty) at ${registry.url} in ${since(t0)}`);
  };
  const restart = async (opts?: StopOptions) => {
    await stop(opts);
    await start();
  };
  return { stop, start, restart };
}

/** Stops the recorded JVM and any other started with this config, then removes its dir. */
export async function removeLocalRegistry(state: LocalRegistryState): Promise<void> {
  const marker = configArgument(state);
  const pids = new Set([state.pid, ...(await pidsWithArgument(marker))]);
  pids.delete(0);
  await Promise.all([...pids].map((pid) => terminate(pid, TEARDOWN_GRACE_MS, marker)));
  await rm(state.dir, { recursive: true, force: true });
}

export interface RegistryWaitOptions {
  /** Checked between attempts so that a JVM that died fails fast instead of timing out. */
  alive?: () => Promise<boolean>;
  hint: string;
  basicAuth?: BasicAuth;
  timeoutMs?: number;
}

/** Ready when GET <url>/subjects answers 200, which needs storage and the ccompat API up. */
export async function registryReady(url: string, opts: RegistryWaitOptions): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? READY_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await registryAnswers(url, opts.basicAuth)) return;
    if (opts.alive && !(await opts.alive())) {
      throw new Error(`the schema registry exited while starting; ${opts.hint}`);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `the schema registry at ${url} did not answer within ${timeoutMs / 1000}s; ${opts.hint}`,
      );
    }
    await sleep(100);
  }
}

async function registryAnswers(url: string, auth: BasicAuth | undefined): Promise<boolean> {
  const headers = auth ? { authorization: basicAuthHeader(auth) } : undefined;
  try {
    const res = await fetch(`${url}/subjects`, { headers, signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

export function basicAuthHeader(auth: BasicAuth): string {
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
}
