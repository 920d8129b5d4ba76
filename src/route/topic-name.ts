/** Kafka's rules for topic names (Kafka's own `Topic.validate`), checked before we produce. */

export const MAX_TOPIC_NAME_LENGTH = 249;
const LEGAL_TOPIC_CHARACTERS = /^[a-zA-Z0-9._-]*$/;

/** Why `name` is not a legal Kafka topic name, or undefined if it is one. */
export function topicNameProblem(name: string): string | undefined {
  if (name.length === 0) {
    return 'it is empty';
  }
  if (name === '.' || name === '..') {
    return `"${name}" is reserved`;
  }
  if (name.length > MAX_TOPIC_NAME_LENGTH) {
    return `it is ${name.length} characters long, more than ${MAX_TOPIC_NAME_LENGTH}`;
  }
  if (!LEGAL_TOPIC_CHARACTERS.test(name)) {
    return 'it may hold only ASCII letters, digits, ".", "_" and "-"';
  }
  return undefined;
}

/** True if `text` holds only characters a topic name may hold (it may be empty or long). */
export function hasOnlyTopicCharacters(text: string): boolean {
  return LEGAL_TOPIC_CHARACTERS.test(text);
}

/** Kafka keeps names that begin with `__` for its own topics (__consumer_offsets, ...). */
export const INTERNAL_TOPIC_PREFIX = '__';

/** A topic of the relay's own that events must never be routed to, and the setting naming it. */
export interface ReservedTopic {
  readonly topic: string;
  readonly setting: string;
  readonly role: string;
}

/** Why events must not go to `name` (Kafka's or the relay's own topic), or undefined. */
export function reservedTopicProblem(
  name: string,
  reserved: readonly ReservedTopic[] = [],
): string | undefined {
  if (name.startsWith(INTERNAL_TOPIC_PREFIX)) {
    return `names beginning with "${INTERNAL_TOPIC_PREFIX}" are Kafka's internal topics`;
  }
  const own = reserved.find((r) => r.topic === name);
  return own ? `it is the relay's ${own.role} (${own.setting})` : undefined;
}
