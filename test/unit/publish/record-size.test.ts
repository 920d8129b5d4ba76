import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitsAlone, recordBytes, varintBytes } from '../../../src/publish/record-size.ts';

describe('record size in a Kafka record batch', () => {
  it('counts zigzag varints as Kafka writes them', () => {
    assert.deepEqual([0, -1, 63, 64, -65, 8191, 8192].map(varintBytes), [1, 1, 1, 2, 2, 2, 3]);
  });

  // Measured against a real broker with max.message.bytes=2000: a 1,900-byte value with a
  // one-byte key was accepted, a 1,960-byte one refused (MESSAGE_TOO_LARGE).
  it('agrees with what a broker accepted and refused', () => {
    const record = (bytes: number) => ({ key: 'k', value: Buffer.alloc(bytes), headers: {} });
    assert.equal(fitsAlone(record(1900), 2000), true);
    assert.equal(fitsAlone(record(1960), 2000), false);
  });

  it('counts keys, headers and a null key', () => {
    const base = recordBytes({ key: null, value: Buffer.alloc(10), headers: {} });
    const withKey = recordBytes({ key: 'abc', value: Buffer.alloc(10), headers: {} });
    assert.equal(withKey - base, 3);
    const withHeader = recordBytes({ key: null, value: Buffer.alloc(10), headers: { h: 'é' } });
    assert.equal(withHeader - base, 1 + 1 + 1 + 2);
  });
});
