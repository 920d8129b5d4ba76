/**
 * Whether encoded bytes may go to Kafka yet. With a schema registry, the first value of a schema
 * is written with schema id 0 while the id is looked up, and the encoder fills it in before its
 * `seal()` resolves (registry-wire-format.ts). The types make that step impossible to skip: the
 * encoder returns `Unsealed` bytes, which read as a Buffer but do not fit a KafkaRecord; only
 * `seal()` turns records that hold them into sendable ones. Brands only: nothing is allocated.
 */
declare const unsealed: unique symbol;

/** Bytes an encoder returned: readable, not yet sendable (a registry id may still be 0). */
export type Unsealed = Buffer & { readonly [unsealed]: true };

/** Bytes that may go to Kafka: any Buffer not marked unsealed. */
export type Sendable = Buffer & { readonly [unsealed]?: never };

interface KeyAndValue {
  readonly key: unknown;
  readonly value: unknown;
}

/** A record whose key and value may still be unsealed. */
export type Unsealable<R extends KeyAndValue> = Omit<R, 'key' | 'value'> & {
  readonly key: R['key'] | Unsealed;
  readonly value: R['value'] | Unsealed;
};

/** The same record after `seal()`: neither its key nor its value is unsealed. */
export type Sealed<R extends KeyAndValue> = Omit<R, 'key' | 'value'> & {
  readonly key: Exclude<R['key'], Unsealed>;
  readonly value: Exclude<R['value'], Unsealed>;
};
