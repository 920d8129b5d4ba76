import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { javaPartitionsByCount } from '../../support/java-murmur2.ts';

const PARTITION_COUNTS = [1, 3, 12];

/** ~200 keys: ids as the outbox holds them, and text in several scripts and widths of UTF-8. */
function sampleKeys(): string[] {
  const keys: string[] = [];
  for (let i = 0; i < 166; i++) keys.push(i % 2 ? `ord-${i}` : `${i * 7919}`);
  const words = [
    'é',
    'ß',
    'Ωμέγα',
    '注文-42',
    'заказ',
    'ðŸ',
    '😀',
    '𝄞-clef',
    'a\u0301',
    'tab\there',
  ];
  for (const word of words) keys.push(word, `${word}-${word.length}`, `prefix:${word}:suffix`);
  keys.push('x'.repeat(1000), ' ', 'line\nbreak', '\u0000nul');
  return keys;
}

function metadata(count: number): PartitionMetadata[] {
  return Array.from({ length: count }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 1,
    replicas: [1],
    isr: [1],
  }));
}

it('kafkajs’s DefaultPartitioner picks the partition Kafka’s Java producer picks for every key', async () => {
  const keys = sampleKeys();
  const java = await javaPartitionsByCount(keys, PARTITION_COUNTS);
  const partition = Partitioners.DefaultPartitioner();
  for (const count of PARTITION_COUNTS) {
    const partitionMetadata = metadata(count);
    const mismatches = keys.filter((key) => {
      const ours = partition({ topic: 't', partitionMetadata, message: { key, value: null } });
      return ours !== java.get(count)?.get(key);
    });
    assert.deepEqual(mismatches, [], `${count} partitions`);
  }
});
