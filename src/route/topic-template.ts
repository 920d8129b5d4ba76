/**
 * The topic template (RELAY_TOPIC_TEMPLATE): literal text and `{placeholder}`s filled from the
 * event. Checked once at start, so a typo stops the relay there rather than failing every event.
 */
import { RelayError } from '../domain/errors.ts';
import {
  hasOnlyTopicCharacters,
  INTERNAL_TOPIC_PREFIX,
  MAX_TOPIC_NAME_LENGTH,
  topicNameProblem,
} from './topic-name.ts';

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

function literalProblem(literal: string): string | undefined {
  if (literal.includes('{') || literal.includes('}')) return 'it has an unmatched "{" or "}"';
  if (!hasOnlyTopicCharacters(literal)) {
    return `"${literal}" holds characters a Kafka topic name cannot`;
  }
  return undefined;
}

/** The template's parts (literals at even indexes, placeholders at odd), or what is wrong. */
function templateParts(template: string): { parts: readonly string[] } | { problem: string } {
  if (template.length === 0) return { problem: 'it is empty' };
  const parts = template.split(PLACEHOLDER);
  for (const [index, part] of parts.entries()) {
    const problem =
      index % 2 === 0
        ? literalProblem(part)
        : isPlaceholder(part)
          ? undefined
          : `unknown placeholder {${part}}`;
    if (problem) return { problem };
  }
  const problem = yieldsNoUsableTopic(parts);
  return problem ? { problem } : { parts };
}

/** Why every topic the (well-formed) template renders is illegal or reserved, if it is so. */
function yieldsNoUsableTopic(parts: readonly string[]): string | undefined {
  const literal = parts.filter((_, index) => index % 2 === 0).join('');
  const placeholders = (parts.length - 1) / 2;
  // Each placeholder adds one character at least: an empty value is refused, not rendered.
  if (literal.length + placeholders > MAX_TOPIC_NAME_LENGTH) {
    return `every topic it makes is over ${MAX_TOPIC_NAME_LENGTH} characters long`;
  }
  if (parts[0]?.startsWith(INTERNAL_TOPIC_PREFIX)) {
    return `every topic it makes begins with "${INTERNAL_TOPIC_PREFIX}", kept for Kafka's internal topics`;
  }
  if (placeholders > 0) return undefined;
  const problem = topicNameProblem(literal);
  return problem ? `it is not a legal topic name: ${problem}` : undefined;
}

/** What is wrong with a template (without the setting's name), or undefined. */
export function templateProblem(template: string): string | undefined {
  const checked = templateParts(template);
  return 'problem' in checked ? checked.problem : undefined;
}

/** The template's parts; throws RelayError('CONFIG_INVALID') naming the setting. */
function checkedParts(template: string): readonly string[] {
  const checked = templateParts(template);
  if ('problem' in checked) throw templateError(template, checked.problem);
  return checked.parts;
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
