/**
 * pgoutput (protocol version 1) message decoder. Pure and synchronous.
 *
 * We decode ourselves rather than through pg-logical-replication's parser because that parser
 * runs every text value through node-postgres' global type parsers: jsonb goes through
 * JSON.parse (big numbers lose precision, the stored text is lost) and timestamptz becomes a
 * Date (microseconds lost). Here every value stays the text Postgres sent, copied out of the
 * socket buffer (which pg reuses) as a JS string.
 */
import { readLsn, type Lsn } from '../domain/lsn.ts';
import { pgMicrosToUnix } from '../domain/pg-epoch.ts';

export interface RelationColumn {
  readonly name: string;
  readonly typeOid: number;
}

export interface Relation {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  readonly columns: readonly RelationColumn[];
}

/** A tuple value: text, SQL NULL, or a TOASTed value the server did not resend. */
export type TupleValue = string | null | typeof UNCHANGED_TOAST;
export const UNCHANGED_TOAST = Symbol('unchanged-toast');

export type PgoutputMessage =
  | { tag: 'begin'; finalLsn: Lsn; commitTimeMicros: bigint; xid: number }
  | { tag: 'commit'; commitLsn: Lsn; endLsn: Lsn; commitTimeMicros: bigint }
  | { tag: 'relation'; relation: Relation }
  | { tag: 'insert'; relationOid: number; values: TupleValue[] }
  | LogicalMessage
  | { tag: 'other'; type: string };

/**
 * A message written with pg_logical_emit_message(transactional, prefix, content); sent only
 * when START_REPLICATION asks for messages. A transactional one arrives inside its transaction's
 * BEGIN..COMMIT; another is sent as soon as it is decoded, outside any transaction.
 */
export interface LogicalMessage {
  readonly tag: 'message';
  readonly transactional: boolean;
  readonly lsn: Lsn;
  readonly prefix: string;
  /** The content as UTF-8 text (invalid bytes become U+FFFD). */
  readonly content: string;
}

const textDecoder = new TextDecoder('utf-8', { fatal: false });

/** A cursor over one message. Throws on truncation instead of reading past the end. */
class Reader {
  private offset = 0;
  private readonly buffer: Buffer;
  constructor(buffer: Buffer) {
    this.buffer = buffer;
  }

  need(bytes: number): void {
    if (this.offset + bytes > this.buffer.length) {
      throw new Error(`pgoutput message truncated at byte ${this.offset} (+${bytes})`);
    }
  }
  u8(): number {
    this.need(1);
    return this.buffer[this.offset++] as number;
  }
  i16(): number {
    this.need(2);
    const value = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }
  i32(): number {
    this.need(4);
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  u32(): number {
    return this.i32() >>> 0;
  }
  lsn(): Lsn {
    this.need(8);
    const value = readLsn(this.buffer, this.offset);
    this.offset += 8;
    return value;
  }
  i64(): bigint {
    this.need(8);
    const value = this.buffer.readBigInt64BE(this.offset);
    this.offset += 8;
    return value;
  }
  cstring(): string {
    const end = this.buffer.indexOf(0, this.offset);
    if (end < 0) throw new Error('pgoutput string not terminated');
    const text = textDecoder.decode(this.buffer.subarray(this.offset, end));
    this.offset = end + 1;
    return text;
  }
  text(length: number): string {
    // A negative length would move the cursor backwards and reread earlier bytes as values.
    if (length < 0) throw new Error(`pgoutput value length ${length} is negative`);
    this.need(length);
    const text = textDecoder.decode(this.buffer.subarray(this.offset, this.offset + length));
    this.offset += length;
    return text;
  }
}

export function decodePgoutput(body: Buffer): PgoutputMessage {
  const reader = new Reader(body);
  const tag = String.fromCharCode(reader.u8());
  switch (tag) {
    case 'B':
      return decodeBegin(reader);
    case 'C':
      return decodeCommit(reader);
    case 'R':
      return { tag: 'relation', relation: decodeRelation(reader) };
    case 'I':
      return decodeInsert(reader);
    case 'M':
      return decodeMessage(reader);
    default:
      // Update, Delete, Truncate, Type, Origin: the relay relays inserts of the outbox (the
      // publication may publish more, as Debezium's does) and logical messages.
      return { tag: 'other', type: tag };
  }
}

function decodeBegin(reader: Reader): PgoutputMessage {
  const finalLsn = reader.lsn();
  const commitTimeMicros = pgMicrosToUnix(reader.i64());
  return { tag: 'begin', finalLsn, commitTimeMicros, xid: reader.u32() };
}

function decodeCommit(reader: Reader): PgoutputMessage {
  reader.u8(); // flags, unused
  const commitLsn = reader.lsn();
  const endLsn = reader.lsn();
  return { tag: 'commit', commitLsn, endLsn, commitTimeMicros: pgMicrosToUnix(reader.i64()) };
}

function decodeRelation(reader: Reader): Relation {
  const oid = reader.u32();
  const schema = reader.cstring();
  const name = reader.cstring();
  reader.u8(); // replica identity, unused for inserts
  const count = reader.i16();
  const columns: RelationColumn[] = [];
  for (let i = 0; i < count; i++) {
    reader.u8(); // flags (part of key), unused
    const columnName = reader.cstring();
    const typeOid = reader.u32();
    reader.i32(); // type modifier
    columns.push({ name: columnName, typeOid });
  }
  return { oid, schema, name, columns };
}

function decodeInsert(reader: Reader): PgoutputMessage {
  const relationOid = reader.u32();
  const marker = String.fromCharCode(reader.u8());
  if (marker !== 'N') throw new Error(`pgoutput insert without new tuple (got '${marker}')`);
  return { tag: 'insert', relationOid, values: decodeTuple(reader) };
}

function decodeMessage(reader: Reader): LogicalMessage {
  // No xid: it is sent only for streamed in-progress transactions, which we never ask for.
  const transactional = (reader.u8() & 1) === 1;
  const lsn = reader.lsn();
  const prefix = reader.cstring();
  const content = reader.text(reader.i32());
  return { tag: 'message', transactional, lsn, prefix, content };
}

function decodeTuple(reader: Reader): TupleValue[] {
  const count = reader.i16();
  const values: TupleValue[] = [];
  for (let i = 0; i < count; i++) {
    const kind = String.fromCharCode(reader.u8());
    if (kind === 'n') values.push(null);
    else if (kind === 'u') values.push(UNCHANGED_TOAST);
    else if (kind === 't') values.push(reader.text(reader.i32()));
    // 'b' (binary) only comes when START_REPLICATION asks for it, which we never do.
    else throw new Error(`pgoutput tuple value of unknown kind '${kind}'`);
  }
  return values;
}
