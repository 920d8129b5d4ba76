/**
 * Our BACKWARD verdict against avsc's own resolver: `reader.createResolver(writer)` throws when
 * the reader cannot read what the writer wrote, which is exactly what BACKWARD asks of a new
 * schema (reader) and the previous one (writer). Pairs are generated from a fixed seed: a writer
 * schema, recursive records included, and a reader made from it by one to three edits of the
 * kinds schema evolution makes (fields added, dropped or renamed, types widened or narrowed,
 * enum symbols, fixed sizes, union branches, renamed records).
 *
 * Names carry no namespace: avsc matches named types by full name where the specification and
 * Java's SchemaCompatibility match the unqualified name, the one rule on which they differ.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import avro from 'avsc';
import { checkCompatibility } from '../../../src/encode/compatibility.ts';
import { eventSchemaOptions } from '../../../src/encode/schema-directory.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

/** mulberry32: a small seeded generator, so a failure names a pair that can be made again. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PRIMITIVES = ['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string'];
const SYMBOLS = ['A', 'B', 'C', 'D'];

class Generator {
  private named = 0;
  readonly rnd: () => number;
  constructor(seed: number) {
    this.rnd = random(seed);
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rnd() * items.length)] as T;
  }

  /** A schema; inside `record` (a name), a field may refer back to it. */
  type(depth: number, record?: string): Json {
    const roll = this.rnd();
    if (depth <= 0 || roll < 0.35) return this.pick(PRIMITIVES);
    if (roll < 0.45) return this.enumType();
    if (roll < 0.5)
      return { type: 'fixed', name: `F${this.named++}`, size: (2 + this.rnd() * 2) | 0 };
    if (roll < 0.6) return { type: 'array', items: this.type(depth - 1, record) };
    if (roll < 0.67) return { type: 'map', values: this.type(depth - 1, record) };
    if (roll < 0.8) return this.union(depth, record);
    return this.record(depth - 1);
  }

  enumType(): Obj {
    const symbols = SYMBOLS.filter(() => this.rnd() < 0.7);
    return { type: 'enum', name: `E${this.named++}`, symbols: symbols.length ? symbols : ['A'] };
  }

  union(depth: number, record?: string): Json[] {
    const branches: Json[] = this.rnd() < 0.5 ? ['null'] : [];
    for (let i = 0; i < 1 + this.rnd() * 2; i++) branches.push(this.type(0));
    if (record && this.rnd() < 0.4) branches.push(record);
    if (depth > 1 && this.rnd() < 0.3) branches.push(this.record(depth - 2));
    return branches;
  }

  /** A record; about half of them recursive, through a union or an array of themselves. */
  record(depth: number): Obj {
    const name = `R${this.named++}`;
    const fields: Obj[] = [];
    for (let i = 0; i < 1 + this.rnd() * 3; i++) {
      fields.push({ name: `f${i}`, type: this.type(depth, name) });
    }
    const self = this.rnd();
    if (self < 0.3) fields.push({ name: 'next', type: ['null', name], default: null });
    else if (self < 0.5) fields.push({ name: 'children', type: { type: 'array', items: name } });
    return { type: 'record', name, fields };
  }
}

/** Every record, enum, fixed, union and field of a schema, with a way to replace each. */
function places(schema: Json): { node: Json; set: (value: Json) => void }[] {
  const found: { node: Json; set: (value: Json) => void }[] = [];
  const visit = (node: Json, set: (value: Json) => void): void => {
    found.push({ node, set });
    if (Array.isArray(node)) {
      node.forEach((branch, i) => visit(branch, (v) => (node[i] = v)));
    } else if (node && typeof node === 'object') {
      if (node.type === 'record') {
        for (const field of node.fields as Obj[])
          visit(field.type ?? null, (v) => (field.type = v));
      } else if (node.type === 'array') {
        visit(node.items ?? null, (v) => (node.items = v));
      } else if (node.type === 'map') {
        visit(node.values ?? null, (v) => (node.values = v));
      }
    }
  };
  visit(schema, () => undefined);
  return found;
}

function renameEverywhere(node: Json, from: string, to: string): Json {
  if (node === from) return to;
  if (Array.isArray(node)) return node.map((n) => renameEverywhere(n, from, to));
  if (node && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([k, v]) => [k, renameEverywhere(v, from, to)]),
    );
  }
  return node;
}

const FIELD_DEFAULTS: readonly [Json, Json][] = [
  ['int', 0],
  ['string', ''],
  [['null', 'long'], null],
  ['boolean', false],
];

/** One edit of the kind schema evolution makes, somewhere in `schema`; returns the new schema. */
function edit(gen: Generator, schema: Json): Json {
  const place = gen.pick(places(schema));
  const node = place.node;
  const roll = gen.rnd();
  if (typeof node === 'string' && PRIMITIVES.includes(node)) {
    place.set(roll < 0.8 ? gen.pick(PRIMITIVES) : ['null', node]);
  } else if (Array.isArray(node)) {
    if (roll < 0.4 && node.length > 1) node.splice(Math.floor(gen.rnd() * node.length), 1);
    else if (roll < 0.8) node.push(gen.pick(PRIMITIVES.filter((p) => !node.includes(p))));
    else place.set(node[0] ?? 'null');
  } else if (node && typeof node === 'object' && node.type === 'record') {
    return editRecord(gen, schema, node, roll);
  } else if (node && typeof node === 'object' && node.type === 'enum') {
    const symbols = node.symbols as string[];
    if (roll < 0.4) node.symbols = SYMBOLS.filter((s) => gen.rnd() < 0.7 || s === symbols[0]);
    else if (roll < 0.7) node.default = symbols[0] ?? 'A';
    else node.symbols = [...new Set([...symbols, gen.pick(SYMBOLS)])];
  } else if (node && typeof node === 'object' && node.type === 'fixed') {
    if (roll < 0.5) node.size = (node.size as number) + 1;
  }
  return schema;
}

function editRecord(gen: Generator, schema: Json, node: Obj, roll: number): Json {
  const fields = node.fields as Obj[];
  if (roll < 0.25) {
    const [type, value] = gen.pick(FIELD_DEFAULTS);
    const field: Obj = { name: `added${fields.length}`, type: structuredClone(type) };
    if (gen.rnd() < 0.6) field.default = value;
    fields.push(field);
  } else if (roll < 0.45 && fields.length > 1) {
    fields.splice(Math.floor(gen.rnd() * fields.length), 1);
  } else if (roll < 0.65) {
    const field = gen.pick(fields);
    const old = field.name as string;
    field.name = `${old}_renamed`;
    if (gen.rnd() < 0.6) field.aliases = [old];
  } else if (roll < 0.8) {
    const old = node.name as string;
    const renamed = renameEverywhere(schema, old, `${old}x`);
    if (gen.rnd() < 0.5) {
      const target = places(renamed).find((p) => (p.node as Obj | null)?.name === `${old}x`);
      (target?.node as Obj).aliases = [old];
    }
    return renamed;
  }
  return schema;
}

interface Pair {
  readonly writer: Json;
  readonly reader: Json;
  readonly recursive: boolean;
}

function generatePairs(count: number, seed: number): Pair[] {
  const gen = new Generator(seed);
  const pairs: Pair[] = [];
  while (pairs.length < count) {
    const writer = gen.record(2);
    let reader = structuredClone(writer) as Json;
    for (let i = 0; i < 1 + gen.rnd() * 3; i++) reader = edit(gen, reader);
    if (!parses(writer) || !parses(reader)) continue; // e.g. a union holding two ints
    const text = JSON.stringify(writer);
    const recursive = /"items":"R\d+"|\["null","R\d+"\]|"R\d+"\]/.test(text);
    pairs.push({ writer, reader, recursive });
  }
  return pairs;
}

function parse(schema: Json): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, eventSchemaOptions());
}

function parses(schema: Json): boolean {
  try {
    parse(schema);
    return true;
  } catch {
    return false;
  }
}

function avscResolves(reader: avro.Type, writer: avro.Type): boolean {
  try {
    reader.createResolver(writer);
    return true;
  } catch {
    return false;
  }
}

describe('schema compatibility against avsc’s resolver', () => {
  const pairs = generatePairs(600, 20_261_205);

  it('agrees with avsc on whether the new schema reads data of the old one (BACKWARD)', () => {
    const disagreements: string[] = [];
    for (const { writer, reader } of pairs) {
      const [readerType, writerType] = [parse(reader), parse(writer)];
      const ours = checkCompatibility(readerType, [writerType], 'BACKWARD');
      const theirs = avscResolves(readerType, writerType);
      if ((ours.length === 0) !== theirs) {
        disagreements.push(
          `avsc ${theirs ? 'resolves' : 'refuses'}, we ${ours.length === 0 ? 'accept' : `refuse (${ours[0]?.message ?? ''})`}:\n` +
            `  writer ${JSON.stringify(writer)}\n  reader ${JSON.stringify(reader)}`,
        );
      }
    }
    assert.deepEqual(disagreements.slice(0, 3), [], `${disagreements.length} disagreements`);
  });

  it('covers recursive schemas, and both verdicts among them', () => {
    const recursive = pairs.filter((pair) => pair.recursive);
    const compatible = recursive.filter(({ writer, reader }) =>
      avscResolves(parse(reader), parse(writer)),
    );
    assert.ok(recursive.length >= 150, `only ${recursive.length} recursive pairs`);
    assert.ok(compatible.length >= 30, `only ${compatible.length} compatible recursive pairs`);
    assert.ok(recursive.length - compatible.length >= 30, 'too few incompatible recursive pairs');
  });
});
