/**
 * Builds pgoutput (protocol version 1) messages byte by byte, following the PostgreSQL docs
 * "Logical Replication Message Formats", so decoder tests read as the messages they send.
 * Times are the server's: microseconds since 2000-01-01T00:00:00Z.
 */
import { UNCHANGED_TOAST } from '../../../src/decode/pgoutput.ts';

export const OID = {
  int8: 20,
  text: 25,
  json: 114,
  timestamptz: 1184,
  uuid: 2950,
  jsonb: 3802,
} as const;

/** A column value as the server sends it: text, SQL NULL ('n') or unchanged TOAST ('u'). */
export type Cell = string | null | typeof UNCHANGED_TOAST;

export interface ColumnSpec {
  readonly name: string;
  readonly typeOid: number;
  readonly key?: boolean;
}

/** Big-endian writer; every method appends and returns this. */
export class Bytes {
  private readonly parts: Buffer[] = [];

  u8(value: number): this {
    return this.push(Buffer.from([value]));
  }
  char(tag: string): this {
    return this.u8(tag.charCodeAt(0));
  }
  i16(value: number): this {
    const buffer = Buffer.alloc(2);
    buffer.writeInt16BE(value);
    return this.push(buffer);
  }
  i32(value: number): this {
    const buffer = Buffer.alloc(4);
    buffer.writeInt32BE(value);
    return this.push(buffer);
  }
  u32(value: number): this {
    const buffer = Buffer.alloc(4);
    buffer.writeUInt32BE(value);
    return this.push(buffer);
  }
  u64(value: bigint): this {
    const buffer = Buffer.alloc(8);
    buffer.writeBigUInt64BE(value);
    return this.push(buffer);
  }
  i64(value: bigint): this {
    const buffer = Buffer.alloc(8);
    buffer.writeBigInt64BE(value);
    return this.push(buffer);
  }
  cstring(text: string): this {
    return this.push(Buffer.from(text, 'utf8')).u8(0);
  }
  bytes(buffer: Buffer): this {
    return this.push(buffer);
  }
  build(): Buffer {
    return Buffer.concat(this.parts);
  }

  private push(buffer: Buffer): this {
    this.parts.push(buffer);
    return this;
  }
}

export function begin(finalLsn: bigint, pgMicros: bigint, xid: number): Buffer {
  return new Bytes().char('B').u64(finalLsn).i64(pgMicros).u32(xid).build();
}

export function commit(commitLsn: bigint, endLsn: bigint, pgMicros: bigint): Buffer {
  return new Bytes().char('C').u8(0).u64(commitLsn).u64(endLsn).i64(pgMicros).build();
}

export function relation(
  oid: number,
  schema: string,
  name: string,
  columns: readonly ColumnSpec[],
): Buffer {
  const bytes = new Bytes().char('R').u32(oid).cstring(schema).cstring(name).char('d');
  bytes.i16(columns.length);
  for (const column of columns) {
    bytes
      .u8(column.key ? 1 : 0)
      .cstring(column.name)
      .u32(column.typeOid)
      .i32(-1);
  }
  return bytes.build();
}

export function tupleData(bytes: Bytes, cells: readonly Cell[]): Bytes {
  bytes.i16(cells.length);
  for (const cell of cells) {
    if (cell === null) bytes.char('n');
    else if (cell === UNCHANGED_TOAST) bytes.char('u');
    else {
      const text = Buffer.from(cell, 'utf8');
      bytes.char('t').i32(text.length).bytes(text);
    }
  }
  return bytes;
}

export function insert(relationOid: number, cells: readonly Cell[]): Buffer {
  return tupleData(new Bytes().char('I').u32(relationOid).char('N'), cells).build();
}

export function update(relationOid: number, oldCells: readonly Cell[], cells: readonly Cell[]) {
  const bytes = tupleData(new Bytes().char('U').u32(relationOid).char('O'), oldCells);
  return tupleData(bytes.char('N'), cells).build();
}

export function deleteRow(relationOid: number, keyCells: readonly Cell[]): Buffer {
  return tupleData(new Bytes().char('D').u32(relationOid).char('K'), keyCells).build();
}

export function truncate(relationOids: readonly number[]): Buffer {
  const bytes = new Bytes().char('T').u32(relationOids.length).u8(0);
  for (const oid of relationOids) bytes.u32(oid);
  return bytes.build();
}

export function type(oid: number, schema: string, name: string): Buffer {
  return new Bytes().char('Y').u32(oid).cstring(schema).cstring(name).build();
}

export function origin(lsn: bigint, name: string): Buffer {
  return new Bytes().char('O').u64(lsn).cstring(name).build();
}

export function logicalMessage(lsn: bigint, prefix: string, content: string): Buffer {
  const body = Buffer.from(content, 'utf8');
  return new Bytes().char('M').u8(1).u64(lsn).cstring(prefix).i32(body.length).bytes(body).build();
}
