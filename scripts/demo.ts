/**
 * npm run demo: the relay end to end on throwaway servers, in well under a minute.
 *
 * Starts Postgres and Kafka (scripts/services), runs `outbox-relay migrate` and `outbox-relay run`
 * through the real CLI, writes a few transactions of sample events, reads them back from Kafka
 * with an independent consumer, shows /metrics, stops the relay with SIGTERM and removes
 * everything, on Ctrl-C too. Exits non-zero when a step fails.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startServices, type Services } from './services/index.ts';
import { decodeAll, consumeAll } from '../test/support/consume.ts';
import { dropOutbox, uniqueNames, type OutboxNames } from '../test/support/fixtures.ts';
import { CLI, NODE_FLAGS, relayEnv } from '../test/support/relay.ts';
import { quoteIdent } from '../src/db/sql.ts';
import { errorMessage } from '../src/domain/errors.ts';
import { metricSum, metricsText, samples, waitUntilReady } from './bench/http.ts';
import { killRelays, startRelayProcess, type RelayProcess } from './bench/relay-process.ts';
import { interruption, Interrupted, signalExitCode, Teardown } from './bench/teardown.ts';
import { hideKafkajsTimerWarning } from './bench/warnings.ts';

// ---------------------------------------------------------------- what the demo writes

interface SampleEvent {
  aggregateType: string;
  aggregateId: string;
  eventType: string;
  payload: Record<string, unknown>;
}

const orderLine = (sku: string, title: string, qty: number, price: string) => ({
  sku,
  title,
  qty,
  price,
});

/** A small shop: each inner array is one database transaction, as the services would write it. */
function sampleTransactions(): SampleEvent[][] {
  const order = (id: string, eventType: string, payload: Record<string, unknown>) => ({
    aggregateType: 'order',
    aggregateId: id,
    eventType,
    payload: { orderId: id, ...payload },
  });
  return [
    [
      {
        aggregateType: 'customer',
        aggregateId: 'c-4711',
        eventType: 'CustomerRegistered',
        payload: { customerId: 'c-4711', name: 'Ada Lovelace', email: 'ada@example.com' },
      },
      order('o-1001', 'OrderPlaced', {
        customerId: 'c-4711',
        lines: [
          orderLine('BK-0042', 'Engine notes', 1, '24.90'),
          orderLine('PN-0007', 'Fountain pen', 2, '12.50'),
        ],
        total: { amount: '49.90', currency: 'EUR' },
      }),
    ],
    [
      order('o-1001', 'OrderPaid', { paymentId: 'pay-8f3a21', method: 'card', amount: '49.90' }),
      {
        aggregateType: 'invoice',
        aggregateId: 'inv-2025-0001',
        eventType: 'InvoiceIssued',
        payload: { invoiceId: 'inv-2025-0001', orderId: 'o-1001', amount: '49.90', due: 'P30D' },
      },
    ],
    [
      order('o-1002', 'OrderPlaced', {
        customerId: 'c-4711',
        lines: [orderLine('IN-0100', 'Ink, blue', 3, '4.20')],
        total: { amount: '12.60', currency: 'EUR' },
      }),
    ],
    [
      order('o-1001', 'OrderShipped', {
        carrier: 'DHL',
        trackingNumber: 'JD014600006251234567',
        shippedAt: new Date().toISOString(),
      }),
    ],
  ];
}

/** A W3C traceparent, as a service's tracing would put it in the outbox row's headers. */
function traceparent(): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}

// ---------------------------------------------------------------- output

const LABEL_WIDTH = 9;
/** Where the lines under a step (records, metrics) start. */
const BLOCK_INDENT = '      ';
/** Longest line a payload is printed on whole; longer objects and arrays are spread over lines. */
const LINE_WIDTH = 100;

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)}s`;
}

/** Thrown once a step has printed its own failure, so that it is not printed twice. */
class StepFailed extends Error {}

/** Set on Ctrl-C: what fails after it is a consequence, not news. */
let interrupted = false;

/** What the teardown line says it removed; depends on whose servers these were. */
let removed = 'everything the demo started is stopped and removed';

/** Runs one step and prints one line for it: label, what it did, how long it took. */
async function step<T>(
  label: string,
  run: () => Promise<T>,
  describe: (value: T) => string,
): Promise<T> {
  const t0 = performance.now();
  try {
    if (interrupted) throw new StepFailed('interrupted');
    const value = await run();
    // After Ctrl-C the story stops at the next step boundary, while teardown runs.
    if (interrupted) throw new StepFailed('interrupted');
    print(`  ✓ ${label.padEnd(LABEL_WIDTH)} ${describe(value)} (${seconds(t0)})`);
    return value;
  } catch (error) {
    if (interrupted) throw error;
    print(`  ✗ ${label.padEnd(LABEL_WIDTH)} failed: ${messageOf(error)}`);
    throw new StepFailed(label, { cause: error });
  }
}

function messageOf(error: unknown): string {
  if (error instanceof AggregateError) return error.errors.map(messageOf).join('; ');
  return errorMessage(error);
}

// ---------------------------------------------------------------- steps

function startOwnedServices(teardown: Teardown): Promise<Services> {
  const starting = startServices();
  // Registered before the await: a Ctrl-C during the start still removes what it started.
  teardown.add('services', async () => {
    const services = await starting.catch(() => undefined);
    await services?.close();
  });
  return starting;
}

function describeServices(services: Services): string {
  const where = {
    local: 'local processes',
    testcontainers: 'containers',
    env: 'given by RELAY_TEST_*',
  }[services.kind];
  const pgHost = new URL(services.pgUrl).host;
  return `postgres ${pgHost}, kafka ${services.kafkaBrokers.join(',')} (${where})`;
}

/**
 * Default names on servers of our own, so the demo looks like a real deployment; unique ones on
 * servers someone else runs, so it cannot collide with what is there.
 */
function demoNames(services: Services): OutboxNames {
  if (services.kind === 'env') return uniqueNames('demo');
  return {
    id: 'demo',
    schema: 'public',
    table: 'outbox',
    publication: 'outbox_relay',
    slot: 'outbox_relay',
    topicTemplate: 'outbox.event.{aggregateType}',
    deadLetterTopic: 'outbox.deadletter',
    topic: (aggregateType) => `outbox.event.${aggregateType}`,
  };
}

interface MigrateSummary {
  applied: string[];
  alreadyApplied: string[];
  slot: string;
  slotCreated: boolean;
}

async function migrate(env: Record<string, string>): Promise<MigrateSummary> {
  const { code, stdout, stderr } = await runCli(['migrate', '--json'], env);
  if (code !== 0) throw new Error(`outbox-relay migrate exited with ${code}: ${stderr.trim()}`);
  return JSON.parse(stdout) as MigrateSummary;
}

function describeMigrate(summary: MigrateSummary): string {
  const applied = summary.applied.length > 0 ? summary.applied.join(', ') : 'nothing new';
  return `applied ${applied}; slot ${summary.slot} ${summary.slotCreated ? 'created' : 'exists'}`;
}

function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...NODE_FLAGS, CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function startRelay(
  env: Record<string, string>,
  logFile: string,
  teardown: Teardown,
): Promise<{ relay: RelayProcess; port: number }> {
  const relay = startRelayProcess(env, logFile);
  teardown.add('relay', async () => void (await relay.stop()));
  return { relay, port: await relay.httpPort };
}

async function becomeReady(port: number): Promise<string> {
  const { first, ready } = await waitUntilReady(port, 30_000);
  const was = `${first.status} ${String(first.body.status)} (stream ${String(first.body.stream)})`;
  const is = `${ready.status} ${String(ready.body.status)} (stream ${String(ready.body.stream)})`;
  return first.status === 200 ? `/readyz ${is}` : `/readyz ${was} → ${is}`;
}

interface Written {
  transactions: SampleEvent[][];
  ids: string[];
}

async function writeSamples(pgUrl: string, names: OutboxNames): Promise<Written> {
  const transactions = sampleTransactions();
  const ids: string[] = [];
  const db = new pg.Client({ connectionString: pgUrl, application_name: 'outbox-relay demo' });
  await db.connect();
  try {
    for (const tx of transactions) ids.push(...(await writeTransaction(db, names, tx)));
  } finally {
    await db.end();
  }
  return { transactions, ids };
}

/** One business transaction: its outbox rows commit together or not at all. */
async function writeTransaction(
  db: pg.Client,
  names: OutboxNames,
  events: SampleEvent[],
): Promise<string[]> {
  const table = `${quoteIdent(names.schema)}.${quoteIdent(names.table)}`;
  const headers = JSON.stringify({ traceparent: traceparent() });
  const ids: string[] = [];
  await db.query('BEGIN');
  for (const e of events) {
    const id = randomUUID();
    await db.query(
      `INSERT INTO ${table} (id, aggregate_type, aggregate_id, event_type, payload, headers)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)`,
      [id, e.aggregateType, e.aggregateId, e.eventType, JSON.stringify(e.payload), headers],
    );
    ids.push(id);
  }
  await db.query('COMMIT');
  return ids;
}

function describeWritten({ transactions, ids }: Written): string {
  const types = new Set(transactions.flat().map((e) => e.aggregateType));
  return `${ids.length} events (${[...types].join(', ')}) in ${transactions.length} transactions`;
}

type Consumed = ReturnType<typeof decodeAll>;

async function consumeSamples(
  brokers: string[],
  names: OutboxNames,
  written: Written,
): Promise<Consumed> {
  const types = new Set(written.transactions.flat().map((e) => e.aggregateType));
  const topics = [...types].map((type) => names.topic(type));
  const records = decodeAll(
    await consumeAll({ brokers, topics, atLeast: written.ids.length, settleMs: 500 }),
  );
  const missing = written.ids.filter((id) => !records.some((r) => r.event.event_id === id));
  if (missing.length > 0) throw new Error(`${missing.length} events never reached Kafka`);
  // In the order they were written; Kafka only orders within a partition.
  const position = new Map(written.ids.map((id, i) => [id, i]));
  return records.sort(
    (a, b) => (position.get(a.event.event_id) ?? 0) - (position.get(b.event.event_id) ?? 0),
  );
}

function describeConsumed(records: Consumed): string {
  const topics = new Set(records.map((r) => r.topic));
  return `${records.length} records from ${topics.size} topics, read back by an independent consumer, Avro-decoded`;
}

/** One table row per record, with its headers and its payload as JSON (not a JSON string). */
function printRecords(records: Consumed): void {
  const columns = [
    { title: 'topic', cell: (r: Consumed[number]) => r.topic },
    { title: 'partition', cell: (r: Consumed[number]) => String(r.partition) },
    { title: 'offset', cell: (r: Consumed[number]) => r.offset },
    { title: 'key', cell: (r: Consumed[number]) => r.key ?? '(none)' },
    { title: 'event type', cell: (r: Consumed[number]) => r.event.event_type },
    { title: 'created_at', cell: (r: Consumed[number]) => isoMillis(r.event.created_at) },
  ];
  const widths = columns.map((c) =>
    Math.max(c.title.length, ...records.map((r) => c.cell(r).length)),
  );
  const row = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ');
  print(`${BLOCK_INDENT}${row(columns.map((c) => c.title)).trimEnd()}`);
  for (const record of records) {
    print(`${BLOCK_INDENT}${row(columns.map((c) => c.cell(record))).trimEnd()}`);
    printEnvelope(record.event);
  }
}

function printEnvelope(event: Consumed[number]['event']): void {
  const inner = `${BLOCK_INDENT}  `;
  const headers = Object.entries(event.headers).map(([name, value]) => `${name}=${value}`);
  print(`${inner}headers ${headers.join(' ') || '(none)'}`);
  const payload = prettyJson(JSON.parse(event.payload), inner.length + 'payload '.length);
  print(`${inner}payload ${payload.replaceAll('\n', `\n${inner}`)}`);
}

/** Microseconds since the epoch as an ISO time of day, to the millisecond. */
function isoMillis(micros: bigint): string {
  return new Date(Number(micros / 1000n)).toISOString().slice(11);
}

/** JSON.stringify(value, null, 2), except that what fits on a line stays on one line. */
function prettyJson(value: unknown, column: number, indent = ''): string {
  const flat = oneLineJson(value);
  if (typeof value !== 'object' || value === null) return flat;
  if (column + indent.length + flat.length <= LINE_WIDTH) return flat;
  const next = `${indent}  `;
  const items = Array.isArray(value)
    ? value.map((v) => `${next}${prettyJson(v, column, next)}`)
    : Object.entries(value).map(
        ([k, v]) => `${next}${JSON.stringify(k)}: ${prettyJson(v, column, next)}`,
      );
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  return `${open}\n${items.join(',\n')}\n${indent}${close}`;
}

function oneLineJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(oneLineJson).join(', ')}]`;
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  const entries = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${oneLineJson(v)}`);
  return entries.length === 0 ? '{}' : `{ ${entries.join(', ')} }`;
}

const SHOWN_METRICS = [
  'outbox_relay_events_published_total',
  'outbox_relay_in_flight_events',
  'outbox_relay_slot_lag_bytes',
  'outbox_relay_publish_latency_seconds_count',
];

/** The relay counts an event once Kafka acknowledged it, which may trail our consumer a little. */
async function metricsAfterPublishing(port: number, events: number): Promise<string[]> {
  const deadline = Date.now() + 10_000;
  let text = await metricsText(port);
  while (metricSum(text, SHOWN_METRICS[0] as string) < events && Date.now() < deadline) {
    await sleep(100);
    text = await metricsText(port);
  }
  return SHOWN_METRICS.flatMap((name) => samples(text, name));
}

interface Stopped {
  code: number | null;
  durableLsn: string;
  confirmedFlushLsn: string | null;
}

async function stopRelay(relay: RelayProcess, pgUrl: string, slot: string): Promise<Stopped> {
  const { code, signal, durableLsn } = await relay.stop();
  if (code !== 0) throw new Error(`the relay exited with ${code ?? signal}; see ${relay.logFile}`);
  if (!durableLsn) throw new Error(`the relay reported no durable LSN; see ${relay.logFile}`);
  return { code, durableLsn, confirmedFlushLsn: await confirmedFlushLsn(pgUrl, slot) };
}

async function confirmedFlushLsn(pgUrl: string, slot: string): Promise<string | null> {
  const db = new pg.Client({ connectionString: pgUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ lsn: string | null }>(
      'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    return rows[0]?.lsn ?? null;
  } finally {
    await db.end();
  }
}

function describeStopped(stopped: Stopped, slot: string): string {
  return (
    `SIGTERM → exit code ${stopped.code}; durable LSN ${stopped.durableLsn} ` +
    `(slot ${slot} confirmed_flush_lsn ${stopped.confirmedFlushLsn ?? 'missing'})`
  );
}

// ---------------------------------------------------------------- the story

async function demo(teardown: Teardown, logFile: string): Promise<void> {
  const services = await step('services', () => startOwnedServices(teardown), describeServices);
  const names = demoNames(services);
  const { pgUrl, kafkaBrokers } = services;
  removed = 'relay, postgres and kafka stopped and removed';
  if (services.kind === 'env') {
    teardown.add('slot', () => dropOutbox(pgUrl, names));
    removed = 'relay stopped, slot and publication dropped; the RELAY_TEST_* servers keep running';
  }
  const env = relayEnv(pgUrl, kafkaBrokers, names, { RELAY_LOG_LEVEL: 'info' });
  await step('migrate', () => migrate(env), describeMigrate);
  const { relay, port } = await step(
    'relay',
    () => startRelay(env, logFile, teardown),
    ({ relay, port }) => `outbox-relay run: pid ${relay.pid}, http port ${port}`,
  );
  await step(
    'ready',
    () => becomeReady(port),
    (text) => text,
  );
  const written = await step('write', () => writeSamples(pgUrl, names), describeWritten);
  const records = await step(
    'consume',
    () => consumeSamples(kafkaBrokers, names, written),
    describeConsumed,
  );
  printRecords(records);
  const lines = await step(
    'metrics',
    () => metricsAfterPublishing(port, written.ids.length),
    () => `GET http://127.0.0.1:${port}/metrics, a few of its lines:`,
  );
  for (const line of lines) print(`${BLOCK_INDENT}${line}`);
  await step(
    'stop',
    () => stopRelay(relay, pgUrl, names.slot),
    (s) => describeStopped(s, names.slot),
  );
}

async function main(): Promise<number> {
  hideKafkajsTimerWarning();
  const t0 = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'outbox-relay-demo-'));
  const logFile = join(dir, 'relay.log');
  print(`outbox-relay demo: the relay's JSON logs go to ${logFile}`);
  const teardown = new Teardown((what, error) =>
    print(`  ✗ teardown  ${what}: ${messageOf(error)}`),
  );
  const signalled = interruption(() => {
    print('  … still tearing down; the relay is killed now');
    killRelays();
  });
  const story = demo(teardown, logFile);
  story.catch(() => undefined); // after an interruption nobody awaits it any more
  let code = 0;
  try {
    await Promise.race([story, signalled]);
  } catch (error) {
    code = failureCode(error);
  }
  if (!(await tearDown(teardown)) && code === 0) code = 1;
  if (code === 0) print(`done in ${seconds(t0)}`);
  else print(`${interrupted ? 'stopped early' : 'failed'}; the relay's log: ${logFile}`);
  return code;
}

function failureCode(error: unknown): number {
  if (error instanceof Interrupted) {
    interrupted = true;
    print(`  ✗ interrupted by ${error.signal}`);
    return signalExitCode(error.signal);
  }
  if (!(error instanceof StepFailed)) print(`  ✗ ${messageOf(error)}`);
  return 1;
}

async function tearDown(teardown: Teardown): Promise<boolean> {
  const t0 = performance.now();
  const ok = await teardown.run();
  const label = 'teardown'.padEnd(LABEL_WIDTH);
  if (ok) print(`  ✓ ${label} ${removed} (${seconds(t0)})`);
  else print(`  ✗ ${label} incomplete (see above): look for leftover processes`);
  return ok;
}

process.exit(await main());
