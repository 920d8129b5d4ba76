/**
 * A first-in first-out queue over an array with a moving head: O(1) push and shift, and taken
 * items are released (the array is compacted once the consumed prefix is large), so a queue
 * that never runs empty under steady load does not keep everything it ever held.
 */
const COMPACT_AFTER = 1024;

export class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(offset = 0): T | undefined {
    return this.items[this.head + offset];
  }

  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.items[this.head++];
    this.compact();
    return item;
  }

  /** Takes the item at the back (the one pushed last). */
  pop(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.items.pop();
    this.compact();
    return item;
  }

  /** Takes up to `count` items from the front. */
  take(count: number): T[] {
    const taken = this.items.slice(this.head, this.head + count);
    this.head += taken.length;
    this.compact();
    return taken;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  private compact(): void {
    if (this.head === this.items.length) this.clear();
    else if (this.head > COMPACT_AFTER && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
