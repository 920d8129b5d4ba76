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
  | 'foreign-table';
