/**
 * PostgreSQL (wal_level=logical), a single-node Kafka 4 broker and a Confluent-compatible schema
 * registry (Apicurio Registry 3, in memory) for integration tests, the demo and the benchmark.
 * Sources, in order:
 *   1. RELAY_TEST_PG_URL + RELAY_TEST_KAFKA_BROKERS, when set (servers someone else runs), with
 *      the optional RELAY_TEST_REGISTRY_URL (unset: no registry, and tests that need one skip);
 *   2. testcontainers (postgres:17, apache/kafka:4.1.1, apicurio/apicurio-registry:3.0.9), when a
 *      Docker engine answers;
 *   3. local processes: an initdb'd cluster from the newest /usr/lib/postgresql/<major>/bin (or
 *      RELAY_TEST_PG_BIN; RELAY_TEST_PG_VERSION=<major> picks a version, its binaries fetched
 *      once if missing: see pg-binaries.ts), a broker run from Maven Central jars cached in .cache/kafka-<version>/
 *      and Apicurio's Maven Central distribution cached in .cache/apicurio-registry-<version>/
 *      (needs java 17+, and mvn for the first fetch).
 * scripts/with-services.ts starts them once per test run; test files call attachServices().
 */
import { dockerAnswers, startContainers } from './containers.ts';
import { settingsFromEnv } from './env.ts';
import { servicesFromState } from './handles.ts';
import { removeLocalKafka, startLocalKafka } from './kafka.ts';
import { say } from './log.ts';
import { removeLocalPostgres, startLocalPostgres } from './postgres.ts';
import { removeLocalRegistry, startLocalRegistry } from './registry.ts';
import { readState, writeState } from './state.ts';
import type { ServicesState, Services, StartOptions } from './types.ts';

export type {
  KafkaSecurityInfo,
  PostgresTlsInfo,
  BasicAuth,
  ServiceControl,
  Services,
  ServicesKind,
  ServicesState,
  StartOptions,
  StopOptions,
} from './types.ts';

/** Starts (or, with the env variables set, adopts) the servers; close() stops what it started. */
export async function startServices(opts: StartOptions = {}): Promise<Services> {
  const state = await startState();
  if (opts.statePath) await writeState(opts.statePath, state);
  return servicesFromState(state, { owner: true, statePath: opts.statePath });
}

/**
 * For a test process: the servers of the surrounding with-services run (RELAY_TEST_SERVICES_STATE),
 * else those named by the env variables (no control), else a private pair it starts and owns.
 */
export async function attachServices(): Promise<Services> {
  const statePath = process.env.RELAY_TEST_SERVICES_STATE;
  if (statePath) return servicesFromState(await readState(statePath), { owner: false, statePath });
  const env = settingsFromEnv();
  if (env) return servicesFromState({ version: 1, kind: 'env', ...env }, { owner: false });
  return startServices();
}

async function startState(): Promise<ServicesState> {
  const env = settingsFromEnv();
  if (env) {
    say(`using RELAY_TEST_PG_URL and RELAY_TEST_KAFKA_BROKERS=${env.kafkaBrokers.join(',')}`);
    if (env.registryUrl) say(`using RELAY_TEST_REGISTRY_URL=${env.registryUrl}`);
    return { version: 1, kind: 'env', ...env };
  }
  if (await dockerAnswers()) return startContainers();
  return startLocal();
}

async function startLocal(): Promise<ServicesState> {
  const [postgres, kafka, registry] = await allOrNone([
    { start: startLocalPostgres(), undo: removeLocalPostgres },
    { start: startLocalKafka(), undo: removeLocalKafka },
    { start: startLocalRegistry(), undo: removeLocalRegistry },
  ]);
  return {
    version: 1,
    kind: 'local',
    pgUrl: `postgres://postgres@127.0.0.1:${postgres.port}/postgres`,
    kafkaBrokers: [`127.0.0.1:${kafka.port}`],
    ...(kafka.security ? { kafkaSecurity: kafka.security } : {}),
    ...(postgres.tls ? { pgTls: postgres.tls } : {}),
    registryUrl: registry.url,
    postgres,
    kafka,
    registry,
  };
}

interface Starting<T> {
  start: Promise<T>;
  undo: (value: T) => Promise<void>;
}

/** Starts all at once; when one fails, those that started are removed before the error propagates. */
async function allOrNone<T extends unknown[]>(all: { [K in keyof T]: Starting<T[K]> }): Promise<T> {
  const starting = all as Starting<unknown>[];
  const results = await Promise.allSettled(starting.map((s) => s.start));
  const values = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (values.length === results.length) return values as T;
  const undoing = results.flatMap((r, i) => {
    const undo = starting[i]?.undo;
    return r.status === 'fulfilled' && undo ? [undo(r.value).catch(() => undefined)] : [];
  });
  await Promise.all(undoing);
  const reasons = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  throw reasons.length === 1 ? reasons[0] : new AggregateError(reasons, 'services: start failed');
}
