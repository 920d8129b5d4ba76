/**
 * PostgreSQL (wal_level=logical) and a single-node Kafka 4 broker for integration tests, the demo
 * and the benchmark. Sources, in order:
 *   1. RELAY_TEST_PG_URL + RELAY_TEST_KAFKA_BROKERS, when set (servers someone else runs);
 *   2. testcontainers (postgres:17, apache/kafka:4.1.1), when a Docker engine answers;
 *   3. local processes: an initdb'd cluster from the newest /usr/lib/postgresql/<major>/bin (or
 *      RELAY_TEST_PG_BIN) and a broker run from Maven Central jars cached in
 *      .cache/kafka-<version>/ (needs java 17+, and mvn for the first fetch).
 * scripts/with-services.ts starts them once per test run; test files call attachServices().
 */
import { dockerAnswers, startContainers } from './containers.ts';
import { settingsFromEnv } from './env.ts';
import { servicesFromState } from './handles.ts';
import { removeLocalKafka, startLocalKafka } from './kafka.ts';
import { say } from './log.ts';
import { removeLocalPostgres, startLocalPostgres } from './postgres.ts';
import { readState, writeState } from './state.ts';
import type { ServicesState, Services, StartOptions } from './types.ts';

export type {
  KafkaSecurityInfo,
  PostgresTlsInfo,
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
    return { version: 1, kind: 'env', ...env };
  }
  if (await dockerAnswers()) return startContainers();
  return startLocal();
}

async function startLocal(): Promise<ServicesState> {
  const [postgres, kafka] = await bothOrNeither(
    startLocalPostgres(),
    startLocalKafka(),
    removeLocalPostgres,
    removeLocalKafka,
  );
  return {
    version: 1,
    kind: 'local',
    pgUrl: `postgres://postgres@127.0.0.1:${postgres.port}/postgres`,
    kafkaBrokers: [`127.0.0.1:${kafka.port}`],
    ...(kafka.security ? { kafkaSecurity: kafka.security } : {}),
    ...(postgres.tls ? { pgTls: postgres.tls } : {}),
    postgres,
    kafka,
  };
}

/** Starts both at once; when one fails, the other is removed before the error propagates. */
async function bothOrNeither<A, B>(
  a: Promise<A>,
  b: Promise<B>,
  undoA: (value: A) => Promise<void>,
  undoB: (value: B) => Promise<void>,
): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'fulfilled' && rb.status === 'fulfilled') return [ra.value, rb.value];
  if (ra.status === 'fulfilled') await undoA(ra.value).catch(() => undefined);
  if (rb.status === 'fulfilled') await undoB(rb.value).catch(() => undefined);
  const reasons = [ra, rb].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  throw reasons.length === 1 ? reasons[0] : new AggregateError(reasons, 'services: start failed');
}
