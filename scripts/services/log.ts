/** Progress lines on stderr, terse, so that they survive test reporters that take stdout. */
export function say(line: string): void {
  process.stderr.write(`services: ${line}\n`);
}

/** Seconds since `t0` (a performance.now() value), for "ready in 2.1s" lines. */
export function since(t0: number): string {
  return `${((performance.now() - t0) / 1000).toFixed(1)}s`;
}
