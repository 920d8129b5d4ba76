/**
 * The one error type of the relay. Only the top of the program (the supervisor's retry loop, the
 * CLI's exit code) branches on `code` and `retriable`; everything below throws and lets it rise.
 */
export type RelayErrorCode =
  | 'CONFIG_INVALID'
  | 'PG_CONNECT'
  | 'PG_PROTOCOL'
  | 'PG_SLOT'
  | 'PG_SLOT_BUSY'
  | 'PG_SLOT_LOST'
  | 'PG_SLOT_INVALIDATED'
  | 'PG_PUBLICATION'
  | 'PG_REPLICATION_LOST'
  | 'KAFKA_CONNECT'
  | 'KAFKA_PUBLISH'
  | 'KAFKA_TOO_LARGE'
  | 'KAFKA_RECORD_REFUSED'
  | 'KAFKA_TOPIC_REFUSED'
  | 'CHECKPOINT_MISMATCH'
  | 'REGISTRY'
  | 'DECODE'
  | 'ENCODE'
  | 'MIGRATION'
  | 'SHUTDOWN_TIMEOUT'
  | 'INTERNAL';

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
