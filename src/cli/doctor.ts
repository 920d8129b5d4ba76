/**
 * `outbox-relay doctor`: checks PostgreSQL and Kafka for what a first deployment gets wrong and
 * prints the fix for each finding. Read-only. Exit codes: 0 when nothing failed (warnings
 * allowed: the relay works, but look), 1 when any check failed (the relay would not work, or
 * not for long), 2 for an invalid configuration.
 */
import { Command } from 'commander';
import { redactConfig } from '../config/redact.ts';
import { createLogger } from '../ops/logger.ts';
import { runDoctor, type Finding, type FindingStatus } from '../admin/doctor.ts';
import { parseTopicTemplate } from '../route/index.ts';
import { addSettingFlags, configFromFlags, EXIT, reportError } from './common.ts';

/** Per connection attempt and query: an answer within it, or a finding that says there was none. */
const TIMEOUT_MS = 5_000;

const SYMBOL: Record<FindingStatus, string> = { ok: '✓', warn: '!', fail: '✗', skip: '-' };

type DoctorOptions = { readonly json?: true };

export function doctorCommand(): Command {
  const command = new Command('doctor')
    .description(
      'Check PostgreSQL (wal_level, slots, senders, role, publication, what replay needs for commit order, slot and its lag) and Kafka (reachable, topic partitions), printing the fix for each finding. Changes nothing. Exit 0: no failures (warnings allowed); 1: a check failed; 2: invalid configuration.',
    )
    .option('--json', 'print the findings as a JSON array');
  addSettingFlags(command, [
    'pgUrl',
    'kafkaBrokers',
    'outboxTable',
    'publication',
    'slot',
    'topicTemplate',
    'logLevel',
  ]);
  return command.action(async (options: DoctorOptions) => {
    process.exitCode = await runDoctorCommand(options).catch(reportError);
  });
}

async function runDoctorCommand(options: DoctorOptions): Promise<number> {
  const { config } = configFromFlags(options);
  parseTopicTemplate(config.topicTemplate); // an invalid template is a configuration error
  // stdout carries the findings (or the JSON); logs go to stderr.
  const logger = createLogger(config.logLevel, process.stderr);
  logger.debug({ config: redactConfig(config) }, 'doctor starting');
  const findings = await runDoctor(config, { logger, timeoutMs: TIMEOUT_MS });
  process.stdout.write(options.json ? `${JSON.stringify(findings)}\n` : formatFindings(findings));
  return findings.some((f) => f.status === 'fail') ? EXIT.failed : EXIT.ok;
}

function formatFindings(findings: readonly Finding[]): string {
  const width = Math.max(...findings.map((f) => f.name.length));
  const lines = findings.flatMap((f) => {
    const head = `${SYMBOL[f.status]} ${f.name.padEnd(width)}  ${f.detail}`;
    return f.fix ? [head, `  ${' '.repeat(width)}  fix: ${f.fix}`] : [head];
  });
  return `${[...lines, '', summary(findings)].join('\n')}\n`;
}

function summary(findings: readonly Finding[]): string {
  const count = (status: FindingStatus) => findings.filter((f) => f.status === status).length;
  const failed = count('fail');
  const verdict = failed > 0 ? 'the relay will not work until the failures are fixed' : 'ready';
  return `${count('ok')} ok, ${count('warn')} warning(s), ${failed} failed, ${count('skip')} not checked: ${verdict}`;
}
