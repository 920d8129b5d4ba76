/**
 * The schema compatibility levels a registry subject can have (the names Confluent's and
 * Apicurio's compatible APIs use). Configuration validates against them; encode/compatibility.ts
 * checks schemas by them.
 *
 *   BACKWARD   the new schema reads data written with the previous one (consumers upgrade first)
 *   FORWARD    the previous schema reads data written with the new one (producers upgrade first)
 *   FULL       both
 *   *_TRANSITIVE  the same against every earlier version, not only the latest
 */
export const COMPATIBILITY_LEVELS = [
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
  'NONE',
] as const;
export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];
