/**
 * Every setting of the relay, declared once: its environment variable, default, validation and
 * documentation. The README's configuration table is generated from this list
 * (`npm run docs:config`), and a test fails when the two differ.
 */
import { z } from 'zod';
import { COMPATIBILITY_LEVELS } from '../domain/compatibility-levels.ts';
import { errorMessage } from '../domain/errors.ts';
import { splitHosts } from '../domain/pg-hosts.ts';
import { templateProblem } from '../route/topic-template.ts';
import { OUTBOX_LAYOUTS, parseAdditionalColumns, VALUE_FORMATS } from './outbox-mapping.ts';
import { keyPairProblem, pemFileProblem, type PemKind } from './pem.ts';

export interface SettingSpec<T extends z.ZodType = z.ZodType> {
  /** Environment variable. */
  readonly env: string;
  /** CLI flag for the common ones, without dashes. */
  readonly flag?: string;
  readonly schema: T;
  readonly doc: string;
  /**
   * Never printed or logged, and may come from `<ENV>_FILE`. 'url': a connection URL of which
   * only the password is hidden (user, host and database help debugging).
   */
  readonly secret?: boolean | 'url';
  /** Default as the README shows it; absent means required. */
  readonly default?: string;
  /**
   * An empty variable is an error, not unset. For settings where `VAR=` is a mistake (an
   * unset shell variable in `VAR=$X`) that the default would silently paper over.
   */
  readonly emptyIsInvalid?: boolean;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;
const identifier = (what: string) =>
  z.string().regex(IDENTIFIER, `must be a plain PostgreSQL ${what} name (letters, digits, _)`);
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    // Plain decimal digits only: "0x10", "1e3" or "12abc" are typos, not numbers to guess at.
    .regex(/^-?\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
const bool = z
  .enum(['true', 'false'], { error: 'must be true or false' })
  .transform((v) => v === 'true');
const brokerList = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(
        z.string().superRefine((broker, ctx) => {
          const problem = brokerProblem(broker);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
      )
      .min(1, 'needs at least one host:port'),
  );
/** Why `broker` is not a host:port Kafka can be reached at, or null. */
function brokerProblem(broker: string): string | null {
  const colon = broker.lastIndexOf(':');
  const [host, port] = colon < 0 ? [broker, ''] : [broker.slice(0, colon), broker.slice(colon + 1)];
  const shown = JSON.stringify(broker);
  if (colon < 0) return `each broker must be host:port; ${shown} has no port`;
  if (!/^[^\s:/]+$/.test(host)) return `${shown} has no host, or one with a space, ":" or "/"`;
  if (!/^\d{1,5}$/.test(port)) return `${shown}: the port must be a number`;
  const number = Number(port);
  return number >= 1 && number <= 65_535 ? null : `${shown}: the port must be 1 to 65535`;
}
const DURATION_UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** `30m`, `12h`, `7d`: one whole number and one unit, in milliseconds. */
const duration = z
  .string()
  .trim()
  .regex(/^\d+[smhd]$/, 'must be a whole number and a unit: s, m, h or d (e.g. 30m, 12h, 7d)')
  .transform(
    (v) => Number(v.slice(0, -1)) * DURATION_UNIT_MS[v.slice(-1) as keyof typeof DURATION_UNIT_MS],
  )
  .pipe(
    z
      .number()
      .min(1000, 'must be longer than 0')
      .max(36_500 * DURATION_UNIT_MS.d, 'must be at most 36500d'),
  );
const postgresUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
  .superRefine((url, ctx) => {
    const problem = urlFileProblem(url);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
/** node-postgres reads these files when a client is made; a bad one is better found at start. */
const PG_URL_FILES: Record<string, PemKind> = {
  sslrootcert: 'certificate',
  sslcert: 'certificate',
  sslkey: 'private key',
};
function urlFileProblem(url: string): string | null {
  let urls: readonly string[];
  try {
    urls = splitHosts(url).urls;
  } catch (error) {
    return errorMessage(error);
  }
  for (const one of urls) {
    const problem = oneHostUrlProblem(one);
    if (problem) return problem;
  }
  return null;
}
function oneHostUrlProblem(url: string): string | null {
  let params: URLSearchParams;
  try {
    params = new URL(url).searchParams; // node-postgres parses it the same way
  } catch {
    return (
      'not a parsable URL; a password (or user name) holding "@", ":", "/", "?" or "#" ' +
      'must be percent-encoded (@ as %40, : as %3A, / as %2F, ? as %3F, # as %23), also when ' +
      'the URL comes from RELAY_PG_URL_FILE, which keeps it out of the environment'
    );
  }
  for (const [param, kind] of Object.entries(PG_URL_FILES)) {
    const path = params.get(param);
    const problem = path ? pemFileProblem(path, kind) : null;
    if (problem) return `${param}: ${problem}`;
  }
  return null;
}
/** A path to a PEM file, read and parsed at load; empty for none. */
const pemFile = (kind: PemKind) =>
  z.string().superRefine((path, ctx) => {
    const problem = path === '' ? null : pemFileProblem(path, kind);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
const columnName = z
  .string()
  .regex(/^$|^[^\s",:]{1,63}$/, 'must be a column name (no spaces, quotes, commas or colons)');
const optionalColumnName = columnName;
const SASL_MECHANISMS = ['none', 'plain', 'scram-sha-256', 'scram-sha-512'] as const;

function setting<T extends z.ZodType>(spec: SettingSpec<T>): SettingSpec<T> {
  return spec;
}

export const SETTINGS = {
  pgUrl: setting({
    env: 'RELAY_PG_URL',
    flag: 'pg-url',
    schema: postgresUrl,
    secret: 'url',
    doc: 'PostgreSQL connection URL of the database that holds the outbox. The role needs the REPLICATION attribute and SELECT on the outbox table (owner rights for `migrate`, DELETE for `prune`). `RELAY_PG_URL_FILE` may name a file that holds it instead (Docker and Kubernetes secrets). A password holding `@`, `:`, `/`, `?` or `#` must be percent-encoded (`@` as `%40`); a URL that does not parse stops the relay with exit code 2. It may name several hosts as libpq takes them (`postgres://u@a:5432,b:5432/db` or `?host=a,b`) with `target_session_attrs` (`any`, `read-write`, `primary`): each session starts on the first host that fits, so the relay follows a promoted standby (README, "Postgres failover").',
  }),
  kafkaBrokers: setting({
    env: 'RELAY_KAFKA_BROKERS',
    flag: 'brokers',
    schema: brokerList,
    doc: 'Kafka bootstrap brokers, comma-separated host:port (port 1 to 65535).',
  }),
  kafkaClientId: setting({
    env: 'RELAY_KAFKA_CLIENT_ID',
    schema: z.string().min(1),
    default: 'outbox-relay',
    doc: 'Kafka client id, shown in broker logs and quotas.',
  }),
  kafkaClient: setting({
    env: 'RELAY_KAFKA_CLIENT',
    schema: z.enum(['kafkajs', 'platformatic'], { error: 'must be kafkajs or platformatic' }),
    default: 'kafkajs',
    doc: 'Kafka client library that produces the events: `kafkajs` (unmaintained since 2023) or `platformatic` (experimental: @platformatic/kafka, less CPU per event; same acks=all, idempotence, Java murmur2 partitioning and error handling; topic administration, the durable position and checkpoint reads stay on kafkajs). `platformatic` does not support `RELAY_DELIVERY=exactly-once` yet.',
  }),
  kafkaTls: setting({
    env: 'RELAY_KAFKA_TLS',
    schema: bool,
    default: 'false',
    doc: "Connect to the brokers over TLS (listeners `SSL` and `SASL_SSL`). The broker's certificate is verified against `RELAY_KAFKA_TLS_CA_FILE`, or Node's default CAs, and must name the host of each broker address.",
  }),
  kafkaTlsCaFile: setting({
    env: 'RELAY_KAFKA_TLS_CA_FILE',
    schema: pemFile('certificate'),
    default: '',
    doc: "PEM file of the CA certificates that sign the brokers' certificates (a private CA); empty: Node's default CAs. Read at start.",
  }),
  kafkaTlsCertFile: setting({
    env: 'RELAY_KAFKA_TLS_CERT_FILE',
    schema: pemFile('certificate'),
    default: '',
    doc: 'PEM client certificate for brokers that require one (mutual TLS, `ssl.client.auth=required`); needs `RELAY_KAFKA_TLS_KEY_FILE`.',
  }),
  kafkaTlsKeyFile: setting({
    env: 'RELAY_KAFKA_TLS_KEY_FILE',
    schema: pemFile('private key'),
    default: '',
    doc: 'Unencrypted PEM private key of `RELAY_KAFKA_TLS_CERT_FILE`. Readable by the relay alone.',
  }),
  kafkaSaslMechanism: setting({
    env: 'RELAY_KAFKA_SASL_MECHANISM',
    schema: z.enum(SASL_MECHANISMS, { error: `must be one of ${SASL_MECHANISMS.join(', ')}` }),
    default: 'none',
    doc: 'SASL authentication with the brokers (listeners `SASL_PLAINTEXT` and `SASL_SSL`): none, plain, scram-sha-256 or scram-sha-512. Anything but none needs `RELAY_KAFKA_SASL_USERNAME` and `RELAY_KAFKA_SASL_PASSWORD`; `plain` sends the password as it is, so use it with `RELAY_KAFKA_TLS=true`.',
  }),
  kafkaSaslUsername: setting({
    env: 'RELAY_KAFKA_SASL_USERNAME',
    schema: z.string(),
    default: '',
    doc: 'SASL user name.',
  }),
  kafkaSaslPassword: setting({
    env: 'RELAY_KAFKA_SASL_PASSWORD',
    schema: z.string(),
    secret: true,
    default: '',
    doc: 'SASL password (`RELAY_KAFKA_SASL_PASSWORD_FILE` to read it from a file).',
  }),
  outboxSchema: setting({
    env: 'RELAY_OUTBOX_SCHEMA',
    schema: identifier('schema'),
    default: 'public',
    doc: 'Schema of the outbox table.',
  }),
  outboxTable: setting({
    env: 'RELAY_OUTBOX_TABLE',
    flag: 'table',
    schema: identifier('table'),
    default: 'outbox',
    doc: 'Name of the outbox table.',
  }),
  publication: setting({
    env: 'RELAY_PUBLICATION',
    flag: 'publication',
    schema: identifier('publication'),
    default: 'outbox_relay',
    doc: 'Publication on the outbox table alone (inserts only), created by `migrate`.',
  }),
  slot: setting({
    env: 'RELAY_SLOT',
    flag: 'slot',
    schema: z
      .string()
      .regex(/^[a-z0-9_]{1,63}$/, 'must be lower-case letters, digits and _ (a slot name)'),
    default: 'outbox_relay',
    doc: 'Logical replication slot (pgoutput). Created by `migrate` and by `run` when missing.',
  }),
  messagePrefix: setting({
    env: 'RELAY_MESSAGE_PREFIX',
    schema: z.string().max(200, 'must be at most 200 characters'),
    default: '',
    doc: "Relay logical messages as events too: those written with `pg_logical_emit_message(true, '<prefix>', '<json>')` inside a transaction, whose JSON content names the outbox columns (README, \"Events without a table\"). Empty: messages are not read. Messages with other prefixes are left alone; one with this prefix written with `transactional = false` is dead-lettered (reason `non-transactional-message`).",
  }),
  outboxLayout: setting({
    env: 'RELAY_OUTBOX_LAYOUT',
    schema: z.enum(OUTBOX_LAYOUTS),
    default: 'relay',
    doc: "The outbox table's columns (README, \"Outbox table layout\"): `relay`, the table `migrate` creates (`id`, `aggregate_type`, `aggregate_id`, `event_type`, `payload`, `headers`, `created_at`), or `debezium`, Debezium's default outbox table (`id`, `aggregatetype`, `aggregateid`, `type`, `payload`, optional `timestamp` and `tracingspancontext`); with `debezium`, each record also gets an `id` header holding the event id, as Debezium's outbox router sends. The `RELAY_COLUMN_*` settings override single columns. Mapped columns the table lacks stop `run` with exit code 2. With a layout other than `relay` (or a table that `migrate` did not create), `migrate` creates only the publication and the slot.",
  }),
  columnId: setting({
    env: 'RELAY_COLUMN_ID',
    schema: columnName,
    default: '',
    doc: "Column of the event id (Debezium's `table.field.event.id`); empty: the layout's.",
  }),
  columnAggregateType: setting({
    env: 'RELAY_COLUMN_AGGREGATE_TYPE',
    schema: columnName,
    default: '',
    doc: "Column of the aggregate type, which the topic template's `{aggregateType}` is filled from (Debezium's `route.by.field`); empty: the layout's.",
  }),
  columnAggregateId: setting({
    env: 'RELAY_COLUMN_AGGREGATE_ID',
    schema: columnName,
    default: '',
    doc: "Column of the aggregate id (Debezium's `table.field.event.key`); empty: the layout's.",
  }),
  columnEventType: setting({
    env: 'RELAY_COLUMN_EVENT_TYPE',
    schema: columnName,
    default: '',
    doc: "Column of the event type; empty: the layout's.",
  }),
  columnPayload: setting({
    env: 'RELAY_COLUMN_PAYLOAD',
    schema: columnName,
    default: '',
    doc: "Column of the payload (Debezium's `table.field.event.payload`): json, jsonb, or text holding JSON (any text with `RELAY_VALUE_FORMAT=raw`); empty: the layout's.",
  }),
  columnCreatedAt: setting({
    env: 'RELAY_COLUMN_CREATED_AT',
    schema: optionalColumnName,
    default: '',
    doc: "Column of the event's time, timestamptz or timestamp (read as UTC) (Debezium's `table.field.event.timestamp`); `none`: the transaction's commit time (on `replay`, the time it reads the row). Empty: the layout's; a `debezium` table without `timestamp` uses the commit time.",
  }),
  columnHeaders: setting({
    env: 'RELAY_COLUMN_HEADERS',
    schema: optionalColumnName,
    default: '',
    doc: "Column of the JSON object of headers whose `traceparent` and `tracestate` become Kafka headers (and which fill the envelope's `headers`); `none`: no such column. Empty: the layout's (with `debezium`, `tracingspancontext`, read as the java.util.Properties text Debezium writes there).",
  }),
  keyColumn: setting({
    env: 'RELAY_KEY_COLUMN',
    schema: columnName,
    default: '',
    doc: 'Column whose value is the Kafka record key (a row with it NULL or empty is dead-lettered, reason `missing-aggregate-id`); empty: the aggregate id column.',
  }),
  additionalColumns: setting({
    env: 'RELAY_ADDITIONAL_COLUMNS',
    schema: z.string().transform((text, ctx) => {
      const parsed = parseAdditionalColumns(text);
      if (typeof parsed === 'string') {
        ctx.addIssue({ code: 'custom', message: parsed });
        return z.NEVER;
      }
      return parsed;
    }),
    default: '',
    doc: "More columns sent along, like Debezium's `table.fields.additional.placement`: `column:header[:name]` as a Kafka header (a NULL value sends none), `column:envelope[:name]` as an optional string field appended to the Avro envelope (null for NULL; a compatible schema change), comma-separated; named like the column unless `name` is given.",
  }),
  valueFormat: setting({
    env: 'RELAY_VALUE_FORMAT',
    schema: z.enum(VALUE_FORMATS),
    default: 'avro',
    doc: "The record value: `avro`, the envelope or the event type's schema (see `RELAY_SCHEMA_DIR`), or `raw`, the payload column as stored (its text in UTF-8, for consumers of Debezium's String or JSON converter; a NULL payload is a null value). `raw` sends no `content-type` header and ignores the schema settings.",
  }),
  topicTemplate: setting({
    env: 'RELAY_TOPIC_TEMPLATE',
    flag: 'topic-template',
    schema: z.string().superRefine((template, ctx) => {
      const problem = templateProblem(template);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    default: 'outbox.event.{aggregateType}',
    emptyIsInvalid: true,
    doc: "Topic for an event; `{aggregateType}` and `{eventType}` are replaced by the row's values. Checked at start: set but empty, or a template that can yield no usable topic name (illegal characters, too long, `.`/`..`, a Kafka-internal `__` name, or the dead-letter or checkpoint topic), stops the relay with exit code 2. An event whose values make an illegal or reserved topic is dead-lettered (reason `unroutable`).",
  }),
  topicPartitions: setting({
    env: 'RELAY_TOPIC_PARTITIONS',
    schema: int(1, 10_000),
    default: '6',
    doc: 'Partition count for topics the relay creates. Existing topics are left as they are.',
  }),
  topicReplicationFactor: setting({
    env: 'RELAY_TOPIC_REPLICATION_FACTOR',
    schema: int(-1, 32).refine((n) => n !== 0, 'must be -1 (broker default) or at least 1'),
    default: '-1',
    doc: 'Replication factor for topics the relay creates; -1 takes the broker default.',
  }),
  deadLetterTopic: setting({
    env: 'RELAY_DEAD_LETTER_TOPIC',
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be a legal Kafka topic name'),
    default: 'outbox.deadletter',
    doc: 'Topic for rows that cannot become events (no aggregate id, malformed headers, ...), with the reason in headers.',
  }),
  schemaDir: setting({
    env: 'RELAY_SCHEMA_DIR',
    flag: 'schema-dir',
    schema: z.string(),
    default: '',
    doc: 'Directory of Avro schemas, one `<event type>.avsc` record schema per event type: such events are published as their payload encoded with that schema (see "Event schemas"). Empty: every event in the generic envelope.',
  }),
  eventsWithoutSchema: setting({
    env: 'RELAY_EVENTS_WITHOUT_SCHEMA',
    schema: z.enum(['envelope', 'dead-letter'], { error: 'must be envelope or dead-letter' }),
    default: 'envelope',
    doc: 'With `RELAY_SCHEMA_DIR` set, what an event whose type has no schema becomes: the generic envelope, or a dead letter (reason `unknown-event-type`).',
  }),
  cloudEvents: setting({
    env: 'RELAY_CLOUDEVENTS',
    schema: bool,
    default: 'false',
    doc: 'Add CloudEvents binary-mode headers (`ce_specversion`, `ce_id`, `ce_source`, `ce_type`, `ce_time`) to every event record.',
  }),
  cloudEventsSource: setting({
    env: 'RELAY_CLOUDEVENTS_SOURCE',
    schema: z.string(),
    default: '',
    doc: 'The `ce_source` of every event; empty means `/outbox-relay/<schema>/<table>`.',
  }),
  schemaRegistryUrl: setting({
    env: 'RELAY_SCHEMA_REGISTRY_URL',
    flag: 'schema-registry-url',
    schema: z.union([
      z.literal(''),
      z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
    ]),
    default: '',
    doc: "A Confluent-compatible schema registry (Confluent, Apicurio's `/apis/ccompat/v7`, ...). Set: values use the Confluent wire format (magic byte 0, 4-byte schema id, Avro body). Empty: Avro single-object encoding, no registry.",
  }),
  schemaRegistryUsername: setting({
    env: 'RELAY_SCHEMA_REGISTRY_USERNAME',
    schema: z.string(),
    default: '',
    doc: 'Basic-auth user for the schema registry; empty for none.',
  }),
  schemaRegistryPassword: setting({
    env: 'RELAY_SCHEMA_REGISTRY_PASSWORD',
    schema: z.string(),
    secret: true,
    default: '',
    doc: 'Basic-auth password for the schema registry (`RELAY_SCHEMA_REGISTRY_PASSWORD_FILE` to read it from a file).',
  }),
  schemaAutoRegister: setting({
    env: 'RELAY_SCHEMA_REGISTRY_AUTO_REGISTER',
    schema: bool,
    default: 'true',
    doc: 'Register schemas the registry does not have yet (after checking them against `RELAY_SCHEMA_COMPATIBILITY`). With false, schemas are only looked up, and an unregistered one stops the relay.',
  }),
  schemaSubjectStrategy: setting({
    env: 'RELAY_SCHEMA_SUBJECT_STRATEGY',
    schema: z.enum(['topic', 'record', 'topic-record'], {
      error: 'must be topic, record or topic-record',
    }),
    default: 'topic-record',
    doc: "Subject a schema is registered under: `topic` (`<topic>-value`), `record` (the record's full name) or `topic-record` (`<topic>-<full name>`). The default suits outbox topics, which carry several event types.",
  }),
  schemaCompatibility: setting({
    env: 'RELAY_SCHEMA_COMPATIBILITY',
    schema: z.enum(COMPATIBILITY_LEVELS, {
      error: `must be one of ${COMPATIBILITY_LEVELS.join(', ')}`,
    }),
    default: 'BACKWARD',
    doc: 'Compatibility a schema must keep with the versions the registry already holds under its subject, checked at start and by `outbox-relay schemas check`: BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE.',
  }),
  keyFormat: setting({
    env: 'RELAY_KEY_FORMAT',
    schema: z.enum(['string', 'avro'], { error: 'must be string or avro' }),
    default: 'string',
    doc: 'Record key: the aggregate id as plain UTF-8 (`string`), or as an Avro `"string"` in the same wire format as values (`avro`; subject `<topic>-key` under the `topic` strategy), for consumers whose key deserializer expects Avro. Partitions follow the key bytes either way.',
  }),
  delivery: setting({
    env: 'RELAY_DELIVERY',
    flag: 'delivery',
    schema: z.enum(['at-least-once', 'exactly-once'], {
      error: 'must be at-least-once or exactly-once',
    }),
    default: 'at-least-once',
    doc: 'exactly-once publishes each batch in a Kafka transaction together with a checkpoint, and skips on restart what the checkpoint says Kafka already holds: read_committed consumers then see every event once. It costs throughput (see Performance).',
  }),
  checkpointTopic: setting({
    env: 'RELAY_CHECKPOINT_TOPIC',
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be a legal Kafka topic name'),
    default: 'outbox-relay.checkpoints',
    doc: "The compacted topic that holds each slot's last published position: in exactly-once mode the checkpoint written with every batch (key: `checkpoint/<system id>/<database>/<slot>`, so that relays of other databases can share the topic); in at-least-once mode the durable position every `RELAY_POSITION_INTERVAL_MS` (key: `position/<system id>/<database>/<slot>`). No event is ever routed to it. If its latest exactly-once record for the slot is not a checkpoint (something else wrote there), `run` stops with exit code 1, naming the topic and key and how to recover: write the last good checkpoint again, or delete it with a tombstone and accept that some events are published once more. An at-least-once record that is not a position is ignored with a warning (the relay then resumes from the slot).",
  }),
  positionIntervalMs: setting({
    env: 'RELAY_POSITION_INTERVAL_MS',
    schema: int(0, 3_600_000),
    default: '1000',
    doc: 'at-least-once: how often the relay writes its durable position to `RELAY_CHECKPOINT_TOPIC` (0: never). A relay restarted while Postgres lost its slot position (a Postgres crash, or a fast restart before PostgreSQL 17) resumes from it, so it sends again at most this interval of events rather than everything since the last Postgres checkpoint.',
  }),
  transactionalId: setting({
    env: 'RELAY_KAFKA_TRANSACTIONAL_ID',
    schema: z.string(),
    default: '',
    doc: 'exactly-once only: the Kafka transactional id; empty means `outbox-relay.<system id>.<database>.<slot>`, unique per database. A relay that takes over the slot fences every earlier producer of this id (a frozen one included) before it reads the checkpoint; a standby fences nothing. Two relays of different databases must not share an id.',
  }),
  checkpointMismatch: setting({
    env: 'RELAY_CHECKPOINT_MISMATCH',
    schema: z.enum(['refuse', 'ignore'], { error: 'must be refuse or ignore' }),
    default: 'refuse',
    doc: "exactly-once only: what to do with a checkpoint that does not belong to this database's history (written on a later timeline, past the end of the server's WAL, or on a timeline that is not an ancestor of the server's: a database restored from a backup). `refuse` stops `run` with exit code 1, naming both histories and the recovery; `ignore` resumes from the slot, publishing what the slot has not confirmed even where Kafka holds events of the other history. A checkpoint of an older timeline that is an ancestor (a promoted standby) is used up to that timeline's switch point, never past it. Checkpoints of another cluster or database are never read: their key names the system identifier and database.",
  }),
  walSenderTimeoutMs: setting({
    env: 'RELAY_WAL_SENDER_TIMEOUT_MS',
    schema: int(0, 3_600_000),
    default: '0',
    doc: "The replication connection's `wal_sender_timeout` (0: the server's, 60 s by default). It bounds how long a relay that stopped answering (frozen, partitioned away) keeps the slot: a standby takes over once Postgres has ended the silent relay's connection. Shorter means a faster takeover, but a relay that stalls longer than this (a long pause of its process) loses the slot and reconnects. It must stay well above `RELAY_STATUS_INTERVAL_MS`.",
  }),
  maxInFlightEvents: setting({
    env: 'RELAY_MAX_IN_FLIGHT_EVENTS',
    schema: int(1),
    default: '20000',
    doc: 'Events read from Postgres but not yet acknowledged by Kafka. When full, reading pauses: this bounds memory.',
  }),
  batchMaxEvents: setting({
    env: 'RELAY_BATCH_MAX_EVENTS',
    schema: int(1),
    default: '5000',
    doc: 'Most events in one Kafka produce request.',
  }),
  batchMaxBytes: setting({
    env: 'RELAY_BATCH_MAX_BYTES',
    schema: int(1024),
    default: '900000',
    doc: "Most value bytes in one Kafka produce request; keep it under the broker's message.max.bytes.",
  }),
  statusIntervalMs: setting({
    env: 'RELAY_STATUS_INTERVAL_MS',
    schema: int(100, 60_000),
    default: '1000',
    doc: 'How often the relay reports its durable position to Postgres and asks for a keepalive.',
  }),
  livenessTimeoutMs: setting({
    env: 'RELAY_LIVENESS_TIMEOUT_MS',
    schema: int(1000),
    default: '60000',
    doc: '`/readyz` fails (`no progress`) while streaming when neither Postgres nor Kafka has made progress for this long. `/livez` does not: it checks the process alone, so an outage never restarts the relay.',
  }),
  shutdownTimeoutMs: setting({
    env: 'RELAY_SHUTDOWN_TIMEOUT_MS',
    schema: int(0),
    default: '30000',
    doc: 'On SIGTERM/SIGINT, how long to wait for in-flight events; past it the relay exits with code 3, after at most 2 s of closing.',
  }),
  standbyRetryMs: setting({
    env: 'RELAY_STANDBY_RETRY_MS',
    schema: int(100, 60_000),
    default: '2000',
    doc: 'While another relay streams from the slot, this one is a standby and tries to take over this often.',
  }),
  heartbeatIntervalMs: setting({
    env: 'RELAY_HEARTBEAT_INTERVAL_MS',
    schema: int(0),
    default: '0',
    doc: 'Run `RELAY_HEARTBEAT_SQL` this often (0: never), so that the slot keeps moving when the database sees no writes at all.',
  }),
  heartbeatSql: setting({
    env: 'RELAY_HEARTBEAT_SQL',
    schema: z.string().min(1),
    default: "SELECT pg_logical_emit_message(false, 'outbox-relay-heartbeat', now()::text)",
    doc: 'The heartbeat statement. The default writes a tiny non-transactional WAL message and touches no table.',
  }),
  slotCheckIntervalMs: setting({
    env: 'RELAY_SLOT_CHECK_INTERVAL_MS',
    schema: int(0),
    default: '10000',
    doc: "How often to read the slot's health from `pg_replication_slots` (`wal_status`, `safe_wal_size`, `conflicting`, `invalidation_reason`, whether this relay holds it) for `/readyz` and the `outbox_relay_slot_*` metrics, on a connection of its own (0: never). A slot PostgreSQL invalidated stops the relay with exit code 1 (`PG_SLOT_INVALIDATED`).",
  }),
  partitionCheckIntervalMs: setting({
    env: 'RELAY_PARTITION_CHECK_INTERVAL_MS',
    schema: int(0),
    default: '60000',
    doc: 'How often to check that topics keep the partition count they had when first used (0: never). A change breaks keyed order and is logged as a warning.',
  }),
  retentionMs: setting({
    env: 'RELAY_RETENTION',
    flag: 'retention',
    schema: duration,
    default: '7d',
    doc: 'How long `prune` keeps outbox rows, by `created_at`: a whole number and a unit, s, m, h or d (`12h`, `7d`). Older rows are deleted only once the slot has confirmed their transactions.',
  }),
  pruneBatchSize: setting({
    env: 'RELAY_PRUNE_BATCH_SIZE',
    schema: int(1, 100_000),
    default: '1000',
    doc: 'Most rows `prune` deletes in one statement; each batch is its own short transaction.',
  }),
  pruneIntervalMs: setting({
    env: 'RELAY_PRUNE_INTERVAL_MS',
    schema: int(0),
    default: '0',
    doc: '`run` prunes this often (0: never), as `outbox-relay prune` does; failures are logged, never fatal. The role then needs DELETE on the outbox table.',
  }),
  httpPort: setting({
    env: 'RELAY_HTTP_PORT',
    flag: 'http-port',
    schema: int(0, 65_535),
    default: '8080',
    doc: 'Port of the health and metrics server (`/livez`, `/readyz`, `/metrics`; `/healthz` is `/livez`); 0 picks a free port.',
  }),
  httpHost: setting({
    env: 'RELAY_HTTP_HOST',
    schema: z.string().min(1),
    default: '0.0.0.0',
    doc: 'Address the health and metrics server listens on.',
  }),
  logLevel: setting({
    env: 'RELAY_LOG_LEVEL',
    flag: 'log-level',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    default: 'info',
    doc: 'Log level: fatal, error, warn, info, debug, trace or silent.',
  }),
  createSlot: setting({
    env: 'RELAY_CREATE_SLOT',
    schema: bool,
    default: 'true',
    doc: 'Create the replication slot at start when it is missing. With false, a missing slot stops the relay.',
  }),
  snapshot: setting({
    env: 'RELAY_SNAPSHOT',
    schema: z.enum(['never', 'initial'], { error: 'must be never or initial' }),
    default: 'never',
    doc: '`initial`: when `run` creates the missing slot, it first publishes the rows already in the outbox (from a snapshot exported with a temporary slot, each record with the header `snapshot: true`), then streams from exactly where that snapshot ends; a slot that exists is never snapshotted. `never`: a new slot streams only what is written from then on. Not with `RELAY_DELIVERY=exactly-once`. See "Rows that exist before the slot".',
  }),
} as const;

export type SettingName = keyof typeof SETTINGS;

export type RelayConfig = {
  readonly [K in SettingName]: z.output<(typeof SETTINGS)[K]['schema']>;
};

/**
 * Why an initial snapshot (`what`) and exactly-once delivery are refused together, and what to
 * do. Exactly-once would need the whole snapshot in one Kafka transaction with a checkpoint.
 */
export function snapshotWithExactlyOnce(what: string, instead: string): string {
  return `${what} cannot be used with RELAY_DELIVERY=exactly-once: the snapshot is published outside Kafka transactions and checkpoints, and one interrupted is published again whole, so read_committed consumers could see its events twice; take it with "outbox-relay migrate --snapshot" under RELAY_DELIVERY=at-least-once, then run exactly-once, ${instead}`;
}

/**
 * Rules between settings, checked once every setting is valid on its own. Each returns what is
 * wrong and what to do, naming the settings, or null.
 */
export const RULES: readonly ((config: RelayConfig) => string | null)[] = [
  ({ kafkaSaslMechanism: mechanism, kafkaSaslUsername: username, kafkaSaslPassword: password }) => {
    if (mechanism === 'none') {
      return username || password
        ? 'RELAY_KAFKA_SASL_USERNAME or RELAY_KAFKA_SASL_PASSWORD is set but RELAY_KAFKA_SASL_MECHANISM is none: set the mechanism (plain, scram-sha-256 or scram-sha-512) or unset both'
        : null;
    }
    const missing = [
      username ? null : 'RELAY_KAFKA_SASL_USERNAME',
      password ? null : 'RELAY_KAFKA_SASL_PASSWORD (or RELAY_KAFKA_SASL_PASSWORD_FILE)',
    ].filter(Boolean);
    return missing.length > 0
      ? `RELAY_KAFKA_SASL_MECHANISM=${mechanism} needs ${missing.join(' and ')}: set them, or set the mechanism to none`
      : null;
  },
  ({ kafkaTlsCertFile: cert, kafkaTlsKeyFile: key }) => {
    if (!cert !== !key) {
      return 'RELAY_KAFKA_TLS_CERT_FILE and RELAY_KAFKA_TLS_KEY_FILE go together: set both (mutual TLS) or neither';
    }
    const problem = cert && key ? keyPairProblem(cert, key) : null;
    return problem
      ? `RELAY_KAFKA_TLS_CERT_FILE and RELAY_KAFKA_TLS_KEY_FILE: ${problem}; give the key of that certificate`
      : null;
  },
  ({ kafkaClient, delivery }) =>
    kafkaClient === 'platformatic' && delivery === 'exactly-once'
      ? 'RELAY_KAFKA_CLIENT=platformatic does not support RELAY_DELIVERY=exactly-once (Kafka transactions): set RELAY_KAFKA_CLIENT=kafkajs, or RELAY_DELIVERY=at-least-once'
      : null,
  ({ snapshot, delivery }) =>
    snapshot === 'initial' && delivery === 'exactly-once'
      ? snapshotWithExactlyOnce('RELAY_SNAPSHOT=initial', 'or set RELAY_SNAPSHOT=never')
      : null,
  ({ walSenderTimeoutMs, statusIntervalMs }) =>
    walSenderTimeoutMs !== 0 && walSenderTimeoutMs < 3 * statusIntervalMs
      ? `RELAY_WAL_SENDER_TIMEOUT_MS=${walSenderTimeoutMs} is less than three RELAY_STATUS_INTERVAL_MS (${statusIntervalMs}): Postgres would end a healthy relay's connection between two status updates; raise it, lower RELAY_STATUS_INTERVAL_MS, or set 0 for the server's wal_sender_timeout`
      : null,
  ({ topicTemplate, deadLetterTopic, checkpointTopic }) => {
    if (topicTemplate.includes('{')) return null;
    const clash = [
      ['RELAY_DEAD_LETTER_TOPIC', deadLetterTopic],
      ['RELAY_CHECKPOINT_TOPIC', checkpointTopic],
    ].find(([, topic]) => topic === topicTemplate);
    return clash
      ? `RELAY_TOPIC_TEMPLATE "${topicTemplate}" is ${clash[0]}: every event would go to the relay's own topic; give the events a topic of their own`
      : null;
  },
  ({ valueFormat, keyFormat, schemaDir }) =>
    valueFormat === 'raw' && (keyFormat === 'avro' || schemaDir !== '')
      ? `RELAY_VALUE_FORMAT=raw sends the payload as stored, without Avro: unset ${keyFormat === 'avro' ? 'RELAY_KEY_FORMAT=avro' : 'RELAY_SCHEMA_DIR'}, or set RELAY_VALUE_FORMAT=avro`
      : null,
  (config) => {
    const tlsFiles = (['kafkaTlsCaFile', 'kafkaTlsCertFile', 'kafkaTlsKeyFile'] as const).filter(
      (name) => config[name] !== '',
    );
    return !config.kafkaTls && tlsFiles.length > 0
      ? `${tlsFiles.map((name) => SETTINGS[name].env).join(', ')} set but RELAY_KAFKA_TLS is false: set RELAY_KAFKA_TLS=true (the listener is SSL or SASL_SSL) or unset them`
      : null;
  },
];
