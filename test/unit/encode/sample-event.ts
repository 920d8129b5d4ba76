/** Hand-built events for the encode and route tests. */
import type { OutboxEvent } from '../../../src/domain/event.ts';
import { lsnFromBigInt } from '../../../src/domain/lsn.ts';

export function sampleEvent(overrides: Partial<OutboxEvent> = {}): OutboxEvent {
  return {
    id: '5f0c3b8e-1a2b-4c3d-8e9f-0a1b2c3d4e5f',
    aggregateType: 'order',
    aggregateId: 'ord-é中-42',
    eventType: 'OrderPlaced',
    payload: '{"total": 12.5, "note": "café"}',
    headers: { trace: 'abc' },
    createdAtMicros: 9_007_199_254_740_993n,
    position: { commitLsn: lsnFromBigInt(0x16b374d848n), txSeq: 1, index: 0 },
    ...overrides,
  };
}
