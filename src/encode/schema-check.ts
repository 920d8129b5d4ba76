/**
 * Compares the local event schemas with what a registry already holds for them: the check
 * behind `outbox-relay schemas check` and behind the relay's start. A problem names the schema
 * file, the subject, the field and the rule broken.
 */
import avro from 'avsc';
import { RelayError } from '../domain/errors.ts';
import type { CompatibilityLevel } from '../domain/compatibility-levels.ts';
import { checkCompatibility, type Incompatibility } from './compatibility.ts';
import { subjectName, type SubjectStrategy } from './registry-wire-format.ts';
import type { RelayConfig } from '../config/schema.ts';
import { topicPattern } from '../route/topic-template.ts';
import { eventSchemaOptions, loadSchemaDirectory, type EventSchema } from './schema-directory.ts';

/** What the check needs from a registry client. */
export interface RegistryHistory {
  subjects(): Promise<string[]>;
  /** Every schema registered under the subject, oldest first, as JSON text. */
  versions(subject: string): Promise<string[]>;
}

export interface SubjectReport {
  readonly eventType: string;
  readonly file: string;
  readonly subject: string;
  /** Versions the registry holds under the subject. */
  readonly versions: number;
  readonly problems: readonly Incompatibility[];
}

export interface CheckOptions {
  registry: RegistryHistory;
  strategy: SubjectStrategy;
  level: CompatibilityLevel;
  /** For the `topic` strategy, whose subjects hold a topic name: topics to check under. */
  topics?: readonly string[];
  /**
   * For the strategies whose subjects hold a topic name: the topics this relay writes (from its
   * topic template), so that another deployment's subjects for the same record are left alone.
   */
  ownsTopic?: (topic: string) => boolean;
}

/**
 * The check as the settings ask for it: RELAY_SCHEMA_DIR against the registry, by the subject
 * strategy and compatibility level, under the topics the topic template can produce. The one
 * check behind `run`'s start, `doctor` and `schemas check`.
 */
export function checkConfiguredSchemas(
  config: Pick<
    RelayConfig,
    'schemaDir' | 'schemaSubjectStrategy' | 'schemaCompatibility' | 'topicTemplate'
  >,
  registry: RegistryHistory,
  topics?: readonly string[],
): Promise<SubjectReport[]> {
  const pattern = topicPattern(config.topicTemplate);
  return checkSchemas(loadSchemaDirectory(config.schemaDir), {
    registry,
    strategy: config.schemaSubjectStrategy,
    level: config.schemaCompatibility,
    ownsTopic: (topic) => pattern.test(topic),
    ...(topics ? { topics } : {}),
  });
}

/**
 * One report per (local schema, existing subject). A schema whose subjects do not exist yet has
 * nothing to be incompatible with and gets a report with 0 versions.
 */
export async function checkSchemas(
  schemas: ReadonlyMap<string, EventSchema>,
  options: CheckOptions,
): Promise<SubjectReport[]> {
  const existing = await options.registry.subjects();
  const reports: SubjectReport[] = [];
  for (const schema of schemas.values()) {
    const subjects = await subjectsOf(schema, existing, options);
    if (subjects.length === 0) {
      const subject = subjectName(options.strategy, '<topic>', schema.fullName);
      reports.push({ ...identity(schema), subject, versions: 0, problems: [] });
    }
    for (const subject of subjects) {
      const history = (await options.registry.versions(subject)).map(parse);
      const problems = checkCompatibility(schema.type, history, options.level);
      reports.push({ ...identity(schema), subject, versions: history.length, problems });
    }
  }
  return reports;
}

function identity(schema: EventSchema) {
  return { eventType: schema.eventType, file: schema.file };
}

function parse(text: string): avro.Type {
  return avro.Type.forSchema(JSON.parse(text) as avro.Schema, eventSchemaOptions());
}

/** The registry's subjects this schema would be registered under, by the strategy. */
async function subjectsOf(
  schema: EventSchema,
  existing: readonly string[],
  options: CheckOptions,
): Promise<string[]> {
  const owns = (subject: string, suffix: string) =>
    subject.endsWith(suffix) && (options.ownsTopic?.(subject.slice(0, -suffix.length)) ?? true);
  switch (options.strategy) {
    case 'record':
      return existing.filter((s) => s === schema.fullName);
    case 'topic-record':
      return existing.filter((s) => owns(s, `-${schema.fullName}`));
    case 'topic': {
      // A topic's subject may hold any record: the ones whose latest version is this record.
      const candidates = options.topics
        ? options.topics.map((t) => `${t}-value`).filter((s) => existing.includes(s))
        : existing.filter((s) => owns(s, '-value'));
      const mine: string[] = [];
      for (const subject of candidates) {
        const latest = (await options.registry.versions(subject)).at(-1);
        if (latest !== undefined && parse(latest).name === schema.fullName) mine.push(subject);
      }
      return mine;
    }
  }
}

/**
 * The wire format's `beforeRegister`: refuses, with a non-retriable error naming the field and
 * the rule, a schema that breaks `level` against the versions the subject already holds. The
 * registry may enforce its own level too; this one is the relay's, so a registry left at NONE
 * (Apicurio's default) still cannot take an incompatible schema from us.
 */
export function refuseIncompatible(
  registry: RegistryHistory,
  level: CompatibilityLevel,
): (subject: string, schema: Pick<EventSchema, 'type' | 'fullName'>) => Promise<void> {
  return async (subject, schema) => {
    if (level === 'NONE') return;
    const history = (await registry.versions(subject)).map(parse);
    const problems = checkCompatibility(schema.type, history, level);
    if (problems.length === 0) return;
    const lines = problems.map((p) => `${p.rule} at ${p.path}: ${p.message}`);
    throw new RelayError(
      'REGISTRY',
      `refusing to register ${schema.fullName} under subject "${subject}": it is not ${level} compatible with the ${history.length} version(s) there: ${lines.join('; ')}`,
      {
        hint: 'Evolve the schema compatibly (new fields need defaults for BACKWARD), or change RELAY_SCHEMA_COMPATIBILITY deliberately; `outbox-relay schemas check` shows the same before a deployment.',
      },
    );
  };
}

/** The problems of a report as lines for a terminal or a log. */
export function describeProblems(report: SubjectReport): string[] {
  return report.problems.map((p) => {
    // The checker's messages start with the path; say it once.
    const message = p.message.startsWith(`${p.path}: `)
      ? p.message.slice(p.path.length + 2)
      : p.message;
    return `${report.file} -> subject "${report.subject}": ${p.rule} at ${p.path}: ${message}`;
  });
}
