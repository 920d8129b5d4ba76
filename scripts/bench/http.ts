/** The relay's health and metrics server as a client sees it, and Prometheus text picked apart. */
import { setTimeout as sleep } from 'node:timers/promises';

export interface Readiness {
  status: number;
  body: Record<string, unknown>;
}

export async function readyz(port: number): Promise<Readiness> {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Polls /readyz until it answers 200; returns the first answer seen and the ready one. */
export async function waitUntilReady(
  port: number,
  timeoutMs: number,
  everyMs = 50,
): Promise<{ first: Readiness; ready: Readiness }> {
  const deadline = Date.now() + timeoutMs;
  let first: Readiness | undefined;
  for (;;) {
    const answer = await readyz(port);
    first ??= answer;
    if (answer.status === 200) return { first, ready: answer };
    if (Date.now() > deadline) {
      throw new Error(`/readyz still answers ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    await sleep(everyMs);
  }
}

export async function metricsText(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  return response.text();
}

/** The sample lines of one metric family (any labels), comments left out. */
export function samples(text: string, name: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

function sampleValue(line: string): number {
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** The sum of a metric over all its label sets (0 when absent). */
export function metricSum(text: string, name: string): number {
  return samples(text, name).reduce((sum, line) => sum + sampleValue(line), 0);
}

export interface Bucket {
  /** Upper bound in the metric's unit; Infinity for +Inf. */
  le: number;
  /** Cumulative count. */
  count: number;
}

export function histogramBuckets(text: string, name: string): Bucket[] {
  return samples(text, `${name}_bucket`).map((line) => {
    const le = /le="([^"]+)"/.exec(line)?.[1] ?? '+Inf';
    return { le: le === '+Inf' ? Infinity : Number(le), count: sampleValue(line) };
  });
}

/** Observations between two scrapes of the same histogram. */
export function bucketsSince(now: Bucket[], before: Bucket[]): Bucket[] {
  return now.map((b, i) => ({ le: b.le, count: b.count - (before[i]?.count ?? 0) }));
}

/**
 * Prometheus' histogram_quantile: linear interpolation inside the bucket holding the rank, so
 * the answer is only as fine as the buckets. Null without observations; the highest finite
 * bound when the rank falls in +Inf.
 */
export function histogramQuantile(buckets: Bucket[], q: number): number | null {
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (bucket.le === Infinity) return lower;
      const inBucket = bucket.count - below;
      return lower + (bucket.le - lower) * (inBucket === 0 ? 1 : (rank - below) / inBucket);
    }
    lower = bucket.le;
    below = bucket.count;
  }
  return lower;
}
