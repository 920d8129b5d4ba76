/**
 * Why an outbox row could not become a published event. The value goes into the dead letter's
 * `dlq_reason` header, so consumers and runbooks match on these exact strings.
 */
export type BadRowReason =
  | 'missing-column'
  | 'missing-aggregate-id'
  | 'missing-value'
  | 'malformed-headers'
  | 'malformed-timestamp'
  | 'unroutable'
  | 'unencodable'
  | 'schema-mismatch'
  | 'unknown-event-type'
  | 'malformed-payload'
  | 'too-large'
  | 'foreign-table'
  /** A logical message (RELAY_MESSAGE_PREFIX) whose content is not a JSON object. */
  | 'malformed-message'
  /** A logical message with the relay's prefix written outside a transaction. */
  | 'non-transactional-message';
