/**
 * Capped exponential backoff with full jitter: the wait before retry n is drawn uniformly from
 * [0, min(max, initial * 2^(n-1))]. Without jitter, relays that fail together (an active relay
 * and its standby when Postgres restarts, every publisher when a broker goes down) retry in
 * step and collide again each time; spreading the waits over the whole interval breaks the
 * step and, on average, waits half as long.
 */
export interface BackoffPolicy {
  /** The ceiling of the first wait. */
  readonly initialMs: number;
  /** The ceiling no wait exceeds, however many retries came before. */
  readonly maxMs: number;
}

/** A number in [0, 1), as Math.random; tests pass their own to pin the draw. */
export type Random = () => number;

/** The wait before retry `attempt` (1 for the first retry), in whole milliseconds. */
export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  random: Random = Math.random,
): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(random() * ceiling);
}

/** The retries of one loop: each `next()` is the following wait; `reset()` starts over. */
export class Backoff {
  private attempt = 0;
  private readonly policy: BackoffPolicy;
  private readonly random: Random;

  constructor(policy: BackoffPolicy, random: Random = Math.random) {
    this.policy = policy;
    this.random = random;
  }

  next(): number {
    this.attempt++;
    return backoffDelay(this.policy, this.attempt, this.random);
  }

  reset(): void {
    this.attempt = 0;
  }
}
