import { containerControl, removeContainer, waitForPostgres } from './containers.ts';
import { unsupportedControl } from './env.ts';
import { brokerReady, localKafka, removeLocalKafka } from './kafka.ts';
import { say } from './log.ts';
import { localPostgresControl, removeLocalPostgres } from './postgres.ts';
import { localRegistryControl, registryReady, removeLocalRegistry } from './registry.ts';
import { readState, writeState } from './state.ts';
import type {
  KafkaState,
  PostgresState,
  RegistryState,
  ServiceControl,
  Services,
  ServicesState,
  StopOptions,
} from './types.ts';

export interface HandleContext {
  /** The owner stops and removes the servers on close(); an attached process does not. */
  owner: boolean;
  /** Shared with other processes; re-read before each Kafka operation, since pids change. */
  statePath?: string;
}

/** The Services object for a state, whether this process started the servers or attached. */
export function servicesFromState(initial: ServicesState, ctx: HandleContext): Services {
  const store = stateStore(initial, ctx.statePath);
  const stopped = new Set<ServiceControl>();
  const postgres = tracked(postgresControl(initial), stopped);
  const kafka = tracked(kafkaControl(initial, store), stopped);
  const registry = tracked(registryControl(initial, store), stopped);
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= ctx.owner ? teardown(store) : startAgain(stopped));
  const { kind, pgUrl, kafkaBrokers, registryUrl, kafkaSecurity, pgTls } = initial;
  return {
    kind,
    pgUrl,
    kafkaBrokers,
    registryUrl,
    ...(kafkaSecurity ? { kafkaSecurity } : {}),
    ...(pgTls ? { pgTls } : {}),
    postgres,
    kafka,
    registry,
    close,
  };
}

interface StateStore {
  load(): Promise<ServicesState>;
  save(state: ServicesState): Promise<void>;
}

/** Without a state file the one in-memory copy is the truth, and saving is a no-op. */
function stateStore(initial: ServicesState, statePath: string | undefined): StateStore {
  if (!statePath) return { load: () => Promise.resolve(initial), save: () => Promise.resolve() };
  return {
    load: () => readState(statePath).catch(() => initial),
    save: (state) => writeState(statePath, state),
  };
}

/** Remembers what this handle stopped, so an attached close() can leave things as it found them. */
function tracked(control: ServiceControl, stopped: Set<ServiceControl>): ServiceControl {
  return {
    stop: async (opts) => {
      stopped.add(control);
      await control.stop(opts);
    },
    start: async () => {
      await control.start();
      stopped.delete(control);
    },
    restart: async (opts) => {
      await control.restart(opts);
      stopped.delete(control);
    },
  };
}

async function startAgain(stopped: Set<ServiceControl>): Promise<void> {
  for (const control of stopped) await control.start();
  stopped.clear();
}

function postgresControl(state: ServicesState): ServiceControl {
  const pg = state.postgres;
  if (!pg) return unsupportedControl('postgres', 'RELAY_TEST_PG_URL');
  if (pg.type === 'local') return localPostgresControl(pg);
  return containerControl(pg, () => waitForPostgres(state.pgUrl));
}

function kafkaControl(state: ServicesState, store: StateStore): ServiceControl {
  const kafka = state.kafka;
  if (!kafka) return unsupportedControl('kafka', 'RELAY_TEST_KAFKA_BROKERS');
  if (kafka.type === 'container') {
    const hint = `see docker logs ${kafka.id}`;
    return containerControl(kafka, () => brokerReady(state.kafkaBrokers, { hint }));
  }
  return localKafkaControl(store);
}

/** Each operation works on the latest state, because another process may have restarted it. */
function localKafkaControl(store: StateStore): ServiceControl {
  const latest = async () => {
    const state = await store.load();
    if (state.kafka?.type !== 'local') throw new Error('services state lost its local Kafka');
    return { state, kafka: state.kafka };
  };
  const stop = async (opts?: StopOptions) => localKafka.stop((await latest()).kafka, opts);
  const start = async () => {
    const { state, kafka } = await latest();
    await localKafka.start(kafka, () => store.save(state));
  };
  const restart = async (opts?: StopOptions) => {
    await stop(opts);
    await start();
  };
  return { stop, start, restart };
}

function registryControl(state: ServicesState, store: StateStore): ServiceControl {
  const registry = state.registry;
  if (!registry) return unsupportedControl('registry', 'RELAY_TEST_REGISTRY_URL');
  if (registry.type === 'container') {
    const hint = `see docker logs ${registry.id}`;
    return containerControl(registry, () => registryReady(state.registryUrl, { hint }));
  }
  return localRegistryControl(async () => {
    const latest = await store.load();
    if (latest.registry?.type !== 'local') throw new Error('services state lost its registry');
    return { registry: latest.registry, save: () => store.save(latest) };
  });
}

/** Stops and removes every server even if one of them fails to go. */
async function teardown(store: StateStore): Promise<void> {
  const state = await store.load();
  const results = await Promise.allSettled([
    removePostgres(state.postgres),
    removeKafka(state.kafka),
    removeRegistry(state.registry),
  ]);
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length > 0) {
    throw new AggregateError(
      failures.map((f): unknown => f.reason),
      'services: teardown failed',
    );
  }
  if (state.kind !== 'env') say('stopped and removed');
}

async function removePostgres(pg: PostgresState | undefined): Promise<void> {
  if (pg?.type === 'local') await removeLocalPostgres(pg);
  if (pg?.type === 'container') await removeContainer(pg);
}

async function removeKafka(kafka: KafkaState | undefined): Promise<void> {
  if (kafka?.type === 'local') await removeLocalKafka(kafka);
  if (kafka?.type === 'container') await removeContainer(kafka);
}

async function removeRegistry(registry: RegistryState | undefined): Promise<void> {
  if (registry?.type === 'local') await removeLocalRegistry(registry);
  if (registry?.type === 'container') await removeContainer(registry);
}
