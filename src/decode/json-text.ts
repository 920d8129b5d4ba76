/**
 * JSON read without losing numbers: JSON.parse alone rounds 12345678901234567890 to a double.
 * Numbers keep their source text (V8's JSON.parse source access) and are written back as they
 * were, so a value that goes through here reaches Kafka with the digits it was written with.
 */

/** A JSON number as written. */
export class RawNumber {
  readonly source: string;
  constructor(source: string) {
    this.source = source;
  }
}

/** JSON.parse, with every number a RawNumber. Throws as JSON.parse does. */
export function parseKeepingNumbers(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) =>
    typeof value === 'number' && context?.source !== undefined
      ? new RawNumber(context.source)
      : value,
  );
}

/** JSON text of a value from parseKeepingNumbers: its numbers as they were written. */
export function stringifyKeepingNumbers(value: unknown): string {
  if (value instanceof RawNumber) return value.source;
  if (Array.isArray(value)) return `[${value.map(stringifyKeepingNumbers).join(',')}]`;
  if (value && typeof value === 'object') {
    const members = Object.entries(value).map(
      ([k, v]) => `${JSON.stringify(k)}:${stringifyKeepingNumbers(v)}`,
    );
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Header values are strings on the wire; anything else is kept as its JSON text. */
export function headerValues(value: unknown): Record<string, string> | string {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value) || value instanceof RawNumber) {
    return 'headers must be a JSON object of names to values';
  }
  const headers: Record<string, string> = {};
  for (const [name, item] of Object.entries(value as Record<string, unknown>)) {
    headers[name] = typeof item === 'string' ? item : stringifyKeepingNumbers(item);
  }
  return headers;
}
