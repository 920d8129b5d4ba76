/**
 * The one error type of the relay. Only the top of the program (the supervisor's retry loop, the
 * CLI's exit code) branches on `code` and `retriable`; everything below throws and lets it rise.
 */
/** What a code means and what the operator does about it; the README's error table shows both. */
export interface ErrorCodeDoc {
  readonly meaning: string;
  readonly fix: string;
}

/**
 * Every error code, in the order the README lists them. A message and its hint name the
 * particular setting or object; these say what the whole class of failure is. `run` retries the
 * retriable ones (connections, outages) and stops on the rest, with exit code 2 for
 * CONFIG_INVALID and 1 otherwise.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: {
    meaning:
      'A setting, flag or command-line argument is missing or invalid (a URL that does not parse, a topic template that yields no legal topic, a replay that cannot know commit order).',
    fix: 'Correct the setting the message names (`outbox-relay config show` lists every setting and where its value came from).',
  },
  PG_CONNECT: {
    meaning:
      'PostgreSQL cannot be reached or refuses the login, or a query on an ordinary connection failed.',
    fix: 'Check `RELAY_PG_URL` (host, port, database, user, password, TLS parameters) and that the server is up; the relay retries while it is down.',
  },
  PG_PROTOCOL: {
    meaning:
      'PostgreSQL answered the replication protocol in a way the relay does not expect (a bad frame, a row outside a transaction).',
    fix: 'The relay reconnects by itself; if it repeats, report it with the log and the PostgreSQL version.',
  },
  PG_SLOT: {
    meaning:
      'The replication slot is missing, not a logical pgoutput slot, lost (its WAL was removed), or cannot be moved as asked.',
    fix: "Run `outbox-relay migrate` to create the slot, or set `RELAY_SLOT` to the relay's slot; a lost slot needs `offsets reset --recreate`, then `replay` for the gap.",
  },
  PG_SLOT_BUSY: {
    meaning: 'Another process streams from the slot (PostgreSQL allows one consumer per slot).',
    fix: '`run` waits as a standby and takes over when the slot is free; for `offsets reset`, stop every relay on the slot (standbys too) first.',
  },
  PG_SLOT_LOST: {
    meaning:
      'This relay no longer owns the slot: it was frozen or cut off past `wal_sender_timeout`, and Postgres ended its connection or another relay took over.',
    fix: 'Nothing: the relay drops what it had not sent and reconnects or stands by. To bound the wait for a frozen relay, lower `RELAY_WAL_SENDER_TIMEOUT_MS`.',
  },
  PG_SLOT_INVALIDATED: {
    meaning:
      'PostgreSQL invalidated the slot (WAL past `max_slot_wal_keep_size`, `idle_replication_slot_timeout`, or a conflict on a standby): it never streams again.',
    fix: 'Run `outbox-relay offsets reset --recreate --yes`, then `outbox-relay replay` for the events written in between.',
  },
  PG_PUBLICATION: {
    meaning:
      'The publication is missing, does not publish the outbox table, or was dropped under the slot.',
    fix: 'Run `outbox-relay migrate` with the same `RELAY_PUBLICATION`, or set `RELAY_PUBLICATION` to yours; check `RELAY_OUTBOX_SCHEMA` and `RELAY_OUTBOX_TABLE`.',
  },
  PG_REPLICATION_LOST: {
    meaning:
      'The replication connection closed or failed mid-stream (a Postgres restart, a network cut).',
    fix: 'Nothing: the relay reconnects with backoff and resumes from what Kafka holds. If it repeats, check the server and the network.',
  },
  KAFKA_CONNECT: {
    meaning: 'Kafka cannot be reached, or refuses the connection (TLS, SASL).',
    fix: 'Check `RELAY_KAFKA_BROKERS` and the Kafka TLS and SASL settings; the relay retries while the brokers are down.',
  },
  KAFKA_PUBLISH: {
    meaning:
      'Kafka refused or failed a produce request, or topic creation or inspection (an outage, an election, missing authorization).',
    fix: "Outages are retried. For a refusal, grant the relay's principal what the message names (Create, Write, IdempotentWrite, transactional id) on the cluster and topics.",
  },
  KAFKA_TOO_LARGE: {
    meaning:
      "A record is larger than the broker's `message.max.bytes` or its topic's `max.message.bytes`.",
    fix: "Nothing to restart: the record goes to the dead-letter topic. Raise the topic's limit, or have the writing service send smaller events.",
  },
  KAFKA_RECORD_REFUSED: {
    meaning: 'Kafka refuses one record for good (for example a corrupt or invalid record).',
    fix: 'Nothing to restart: the record goes to the dead-letter topic with what Kafka said; fix the writing service.',
  },
  KAFKA_TOPIC_REFUSED: {
    meaning:
      "Kafka will not create or let the relay write an event's topic (an illegal or colliding name, missing authorization).",
    fix: 'Nothing to restart: its events go to the dead-letter topic. Fix `RELAY_TOPIC_TEMPLATE` or the aggregate type, or grant Create and Write on the topic.',
  },
  CHECKPOINT_MISMATCH: {
    meaning:
      'Exactly-once: the checkpoint in `RELAY_CHECKPOINT_TOPIC` belongs to another database history (a restore from backup), or is not a checkpoint.',
    fix: 'Follow the recovery in the message: write the last good checkpoint again, delete it with a tombstone, or set `RELAY_CHECKPOINT_MISMATCH=ignore`.',
  },
  REGISTRY: {
    meaning:
      'The schema registry does not answer, refuses a request, or holds an incompatible or missing schema.',
    fix: 'Check `RELAY_SCHEMA_REGISTRY_URL` and its credentials (the relay retries while it is down); for an incompatible schema, `outbox-relay schemas check` names the field and the rule.',
  },
  DECODE: {
    meaning:
      'Bytes could not be decoded: a pgoutput message, a checkpoint record, or an Avro value written with another schema.',
    fix: 'For the stream, the relay reconnects; for a checkpoint, see CHECKPOINT_MISMATCH; for a value, decode it with the schema it was written with.',
  },
  ENCODE: {
    meaning:
      'An event cannot become a Kafka record: its payload does not match its schema, it has no schema, no aggregate id, or no legal topic.',
    fix: 'Nothing to restart: the event goes to the dead-letter topic with the reason. Fix the writing service, or evolve the schema.',
  },
  MIGRATION: {
    meaning:
      'A migration cannot be applied: a badly named file, an applied migration whose file changed, or a failing statement.',
    fix: 'Restore the changed file and add a new numbered migration instead; for a failing statement, fix the database object the message names.',
  },
  INTERNAL: {
    meaning:
      'Something the relay relies on is broken: its shipped schema files, or an invariant of its own code.',
    fix: 'Reinstall the package (`npm ci`), then report the message and the log if it repeats.',
  },
} as const satisfies Readonly<Record<string, ErrorCodeDoc>>;

export type RelayErrorCode = keyof typeof ERROR_CODES;

export interface RelayErrorOptions {
  retriable?: boolean;
  cause?: unknown;
  /** What the operator should do next; printed after the message. */
  hint?: string;
}

export class RelayError extends Error {
  readonly code: RelayErrorCode;
  readonly retriable: boolean;
  readonly hint: string | undefined;

  constructor(code: RelayErrorCode, message: string, options: RelayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RelayError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.hint = options.hint;
  }
}

export function isRetriable(error: unknown): boolean {
  return error instanceof RelayError ? error.retriable : false;
}

/**
 * The first thing `pick` finds in an error or in the errors it wraps (`cause`, kafkajs'
 * `originalError`, an AggregateError's or kafkajs' `errors`), depth first, at most six levels
 * down: libraries wrap the error that says what really happened, sometimes more than once.
 */
export function findInChain<T>(
  error: unknown,
  pick: (error: Error) => T | undefined,
  depth = 0,
): T | undefined {
  if (!(error instanceof Error) || depth > 5) return undefined;
  const found = pick(error);
  if (found !== undefined) return found;
  const wrapper = error as Error & { originalError?: unknown; errors?: unknown[] };
  for (const inner of [error.cause, wrapper.originalError, ...(wrapper.errors ?? [])]) {
    const deeper = findInChain(inner, pick, depth + 1);
    if (deeper !== undefined) return deeper;
  }
  return undefined;
}

/** What a caught value says, for a log line or a message: anything can be thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** As errorMessage, with the stack where there is one: for failures no code anticipated. */
export function errorStack(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
