/** Builds a relay and its Kafka sink from the configuration: the one wiring `run` and tests share. */
import type { RelayConfig } from '../config/schema.ts';
import { createEnvelopeEncoder } from '../encode/index.ts';
import type { HealthState } from '../ops/health.ts';
import type { Logger } from '../ops/logger.ts';
import type { RelayMetrics } from '../ops/metrics.ts';
import { createKafkaSink, type KafkaSink } from '../publish/kafka.ts';
import { createRouter } from '../route/index.ts';
import { Relay } from './relay.ts';

export function createRelay(
  config: RelayConfig,
  observability: { logger: Logger; metrics: RelayMetrics; health: HealthState },
): { relay: Relay; sink: KafkaSink } {
  const exactlyOnce = config.delivery === 'exactly-once';
  const sink = createKafkaSink({
    brokers: config.kafkaBrokers,
    clientId: config.kafkaClientId,
    partitions: config.topicPartitions,
    replicationFactor: config.topicReplicationFactor,
    logger: observability.logger,
    ...(exactlyOnce
      ? { transactionalId: config.transactionalId || `outbox-relay.${config.slot}` }
      : {}),
  });
  const relay = new Relay({
    ...observability,
    config,
    sink,
    encoder: createEnvelopeEncoder(),
    router: createRouter({ topicTemplate: config.topicTemplate }),
  });
  return { relay, sink };
}
