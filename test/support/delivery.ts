/**
 * Counts what a consumer saw against what was written: lost, duplicated and reordered events.
 * Every fault test ends with this count.
 */
import type { TestEvent } from './fixtures.ts';

export interface Delivered {
  id: string;
  aggregateId: string;
  seq: number;
}

export interface DeliveryCount {
  expected: number;
  received: number;
  lost: number;
  duplicated: number;
  /** Events whose first delivery came after a later event of the same aggregate. */
  reordered: number;
  /**
   * Stray older deliveries: an aggregate's stream steps back (a replay after a restart does
   * that) but then jumps forward instead of replaying on from there, or ends below its latest
   * event. A consumer that keeps the latest state would go back in time (X1 X2 X3 X2 X4).
   * Requires each aggregate's seq to count 0, 1, 2, ... in commit order.
   */
  strays: number;
  lostIds: string[];
}

export function countDelivery(
  expected: readonly TestEvent[],
  delivered: readonly Delivered[],
): DeliveryCount {
  const seen = new Map<string, number>();
  let duplicated = 0;
  let reordered = 0;
  const highest = new Map<string, number>();
  for (const d of delivered) {
    const times = seen.get(d.id) ?? 0;
    seen.set(d.id, times + 1);
    if (times > 0) {
      duplicated++;
      continue;
    }
    const top = highest.get(d.aggregateId) ?? -1;
    if (d.seq < top) reordered++;
    else highest.set(d.aggregateId, d.seq);
  }
  const lostIds = expected.filter((e) => !seen.has(e.id)).map((e) => e.id);
  return {
    expected: expected.length,
    received: delivered.length,
    lost: lostIds.length,
    duplicated,
    reordered,
    strays: countStrays(delivered),
    lostIds: lostIds.slice(0, 10),
  };
}

function countStrays(delivered: readonly Delivered[]): number {
  const last = new Map<string, { seq: number; steppedBack: boolean }>();
  const top = new Map<string, number>();
  let strays = 0;
  for (const d of delivered) {
    const previous = last.get(d.aggregateId);
    if (previous?.steppedBack && d.seq > previous.seq + 1) strays++;
    last.set(d.aggregateId, {
      seq: d.seq,
      steppedBack: previous !== undefined && d.seq <= previous.seq,
    });
    top.set(d.aggregateId, Math.max(top.get(d.aggregateId) ?? -1, d.seq));
  }
  for (const [aggregate, { seq }] of last) if (seq < (top.get(aggregate) ?? -1)) strays++;
  return strays;
}
