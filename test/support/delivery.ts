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
    lostIds: lostIds.slice(0, 10),
  };
}
