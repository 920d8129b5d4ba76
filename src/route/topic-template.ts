/**
 * The topic template (RELAY_TOPIC_TEMPLATE): literal text and `{placeholder}`s filled from the
 * event. Checked once at start, so a typo stops the relay there rather than failing every event.
 */
import { RelayError } from '../domain/errors.ts';
import { hasOnlyTopicCharacters, MAX_TOPIC_NAME_LENGTH } from './topic-name.ts';

export const TOPIC_TEMPLATE_SETTING = 'RELAY_TOPIC_TEMPLATE';
/** Debezium's outbox router names topics this way; its users expect it. */
export const DEFAULT_TOPIC_TEMPLATE = 'outbox.event.{aggregateType}';

export const TOPIC_PLACEHOLDERS = ['aggregateType', 'eventType'] as const;
export type TopicPlaceholder = (typeof TOPIC_PLACEHOLDERS)[number];
export type TopicValues = Readonly<Record<TopicPlaceholder, string>>;

export interface TopicTemplate {
  readonly source: string;
  /** The placeholders the template uses, each once even if repeated. */
  readonly placeholders: readonly TopicPlaceholder[];
  render(values: TopicValues): string;
}

// Splitting on this (with its capture group) yields literal text at even indexes and placeholder
// names at odd ones.
const PLACEHOLDER = /\{([^{}]*)\}/;
const PLACEHOLDER_LIST = TOPIC_PLACEHOLDERS.map((name) => `{${name}}`).join(', ');

function templateError(template: string, problem: string): RelayError {
  return new RelayError('CONFIG_INVALID', `${TOPIC_TEMPLATE_SETTING} "${template}": ${problem}`, {
    hint:
      `Use literal topic characters (a-z A-Z 0-9 . _ -) and the placeholders ${PLACEHOLDER_LIST}; ` +
      `the default is ${DEFAULT_TOPIC_TEMPLATE}.`,
  });
}

function isPlaceholder(name: string): name is TopicPlaceholder {
  return (TOPIC_PLACEHOLDERS as readonly string[]).includes(name);
}

function checkLiteral(template: string, literal: string): void {
  if (literal.includes('{') || literal.includes('}')) {
    throw templateError(template, 'it has an unmatched "{" or "}"');
  }
  if (!hasOnlyTopicCharacters(literal)) {
    throw templateError(template, `"${literal}" holds characters a Kafka topic name cannot`);
  }
}

function checkPlaceholder(template: string, name: string): void {
  if (!isPlaceholder(name)) {
    throw templateError(template, `unknown placeholder {${name}}`);
  }
}

/** The template's parts (literals at even indexes, placeholders at odd), each checked. */
function checkedParts(template: string): readonly string[] {
  if (template.length === 0) {
    throw templateError(template, 'it is empty');
  }
  const parts = template.split(PLACEHOLDER);
  parts.forEach((part, index) =>
    index % 2 === 0 ? checkLiteral(template, part) : checkPlaceholder(template, part),
  );
  const literalLength = parts.filter((_, index) => index % 2 === 0).join('').length;
  if (literalLength > MAX_TOPIC_NAME_LENGTH) {
    throw templateError(template, `its literal text alone is over ${MAX_TOPIC_NAME_LENGTH} chars`);
  }
  return parts;
}

/** Topics the template can produce: its literal text, and anything for each placeholder. */
export function topicPattern(template: string): RegExp {
  const literals = template
    .split(/\{[^{}]*\}/)
    .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${literals.join('.+')}$`);
}

/** Parses and checks a template; throws RelayError('CONFIG_INVALID') naming the setting. */
export function parseTopicTemplate(template: string): TopicTemplate {
  const parts = checkedParts(template);
  const names = parts.filter((_, index) => index % 2 === 1) as TopicPlaceholder[];
  const render = (values: TopicValues): string =>
    parts
      .map((part, index) => (index % 2 === 0 ? part : values[part as TopicPlaceholder]))
      .join('');
  return Object.freeze({ source: template, placeholders: [...new Set(names)], render });
}
