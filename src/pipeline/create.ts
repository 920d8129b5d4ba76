/** Builds a relay and its Kafka sink from the configuration: the one wiring `run` and tests share. */
import type { RelayConfig } from '../config/schema.ts';
import { createEventEncoder, createRawEncoder, type EventEncoder } from '../encode/encoder.ts';
import { envelopeFieldNames, outboxMapping, type OutboxMapping } from '../config/outbox-mapping.ts';
import { registryClientFrom, type RegistryClient } from '../encode/registry-client.ts';
import { registryWireFormat } from '../encode/registry-wire-format.ts';
import { refuseIncompatible } from '../encode/schema-check.ts';
import { loadSchemaDirectory } from '../encode/schema-directory.ts';
import type { HealthState } from '../ops/health.ts';
import type { Logger } from '../ops/logger.ts';
import type { RelayMetrics } from '../ops/metrics.ts';
import { createKafkaSink, type KafkaSink } from '../publish/kafka.ts';
import { createRouter, type Router } from '../route/index.ts';
import { Relay } from './relay.ts';
import { kafkaClientOptions } from '../publish/kafka-security.ts';

export function createRelay(
  config: RelayConfig,
  observability: { logger: Logger; metrics: RelayMetrics; health: HealthState },
): { relay: Relay; sink: KafkaSink } {
  const exactlyOnce = config.delivery === 'exactly-once';
  const sink = createKafkaSink({
    ...kafkaClientOptions(config),
    partitions: config.topicPartitions,
    replicationFactor: config.topicReplicationFactor,
    logger: observability.logger,
    // The transactional id is known once the relay knows its database (see Relay.readCheckpoint).
    ...(exactlyOnce ? { transactional: true } : {}),
  });
  const relay = new Relay({
    ...observability,
    config,
    sink,
    encoder: encoderFrom(config),
    router: routerFrom(config),
  });
  return { relay, sink };
}

/** The encoder the settings ask for; a bad schema directory throws RelayError('CONFIG_INVALID'). */
export function encoderFrom(
  config: RelayConfig,
  registry: RegistryClient | null = registryClientFrom(config),
): EventEncoder {
  if (config.valueFormat === 'raw') return createRawEncoder();
  return createEventEncoder({
    ...(config.schemaDir ? { schemas: loadSchemaDirectory(config.schemaDir) } : {}),
    withoutSchema: config.eventsWithoutSchema,
    avroKeys: config.keyFormat === 'avro',
    envelopeFields: envelopeFieldNames(mappingFrom(config)),
    ...(registry
      ? {
          wireFormat: registryWireFormat({
            registry,
            strategy: config.schemaSubjectStrategy,
            autoRegister: config.schemaAutoRegister,
            beforeRegister: refuseIncompatible(registry, config.schemaCompatibility),
          }),
        }
      : {}),
  });
}

/** The router the settings ask for; a bad topic template throws RelayError('CONFIG_INVALID'). */
export function routerFrom(config: RelayConfig): Router {
  const source =
    config.cloudEventsSource || `/outbox-relay/${config.outboxSchema}/${config.outboxTable}`;
  return createRouter({
    topicTemplate: config.topicTemplate,
    reservedTopics: [
      {
        topic: config.deadLetterTopic,
        setting: 'RELAY_DEAD_LETTER_TOPIC',
        role: 'dead-letter topic',
      },
      {
        topic: config.checkpointTopic,
        setting: 'RELAY_CHECKPOINT_TOPIC',
        role: 'checkpoint topic',
      },
    ],
    ...(config.cloudEvents ? { cloudEventsSource: source } : {}),
    rawValue: config.valueFormat === 'raw',
    idHeader: mappingFrom(config).idHeader,
  });
}

/** The outbox table's columns as the settings map them (RELAY_OUTBOX_LAYOUT, RELAY_COLUMN_*). */
export function mappingFrom(config: RelayConfig): OutboxMapping {
  return outboxMapping(config);
}
