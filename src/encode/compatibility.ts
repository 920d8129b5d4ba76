/**
 * Avro schema compatibility, by the specification's schema resolution rules: can data written
 * with one schema be read with another? Checked locally, so that a problem names the field and
 * the rule it breaks whatever registry is in use, and before anything is registered. The levels
 * and what each one means are in domain/compatibility-levels.ts.
 */
import type avro from 'avsc';
import type { CompatibilityLevel } from '../domain/compatibility-levels.ts';

export interface Incompatibility {
  /** Where, as a field path from the record: `OrderPlaced.total`, `OrderPlaced.lines[].sku`. */
  readonly path: string;
  /** The rule broken, in the names Confluent's checker uses. */
  readonly rule:
    | 'READER_FIELD_MISSING_DEFAULT_VALUE'
    | 'TYPE_MISMATCH'
    | 'NAME_MISMATCH'
    | 'MISSING_ENUM_SYMBOLS'
    | 'FIXED_SIZE_MISMATCH'
    | 'MISSING_UNION_BRANCH';
  readonly message: string;
  /** Which direction failed: the new schema reading old data, or the old reading new data. */
  readonly direction: 'new reads old' | 'old reads new';
}

/**
 * What stops `candidate` from joining `history` (oldest first) at `level`; empty when it may.
 */
export function checkCompatibility(
  candidate: avro.Type,
  history: readonly avro.Type[],
  level: CompatibilityLevel,
): Incompatibility[] {
  if (level === 'NONE' || history.length === 0) return [];
  const against = level.endsWith('_TRANSITIVE') ? history : history.slice(-1);
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const problems: Incompatibility[] = [];
  for (const previous of against) {
    if (backward) problems.push(...readProblems(candidate, previous, 'new reads old'));
    if (forward) problems.push(...readProblems(previous, candidate, 'old reads new'));
  }
  return dedupe(problems);
}

/** Why `reader` cannot read what `writer` wrote (empty: it can). */
export function readProblems(
  reader: avro.Type,
  writer: avro.Type,
  direction: Incompatibility['direction'],
): Incompatibility[] {
  const problems: Incompatibility[] = [];
  const report: Context['report'] = (path, rule, message) =>
    problems.push({ path, rule, message, direction });
  check(reader, writer, reader.name ?? reader.typeName, newContext(direction, report));
  return problems;
}

interface Context {
  readonly direction: Incompatibility['direction'];
  readonly report: (path: string, rule: Incompatibility['rule'], message: string) => void;
  /** How many problems this context has reported so far. */
  readonly reported: () => number;
  /** Shared by every check of one readProblems call, union-branch trials included. */
  readonly records: RecordPairs;
}

function newContext(
  direction: Incompatibility['direction'],
  report: Context['report'],
  records = new RecordPairs(),
): Context {
  let count = 0;
  return {
    direction,
    report: (path, rule, message) => {
      count++;
      report(path, rule, message);
    },
    reported: () => count,
    records,
  };
}

/**
 * The (reader, writer) record pairs being checked, or found compatible, as Java's
 * SchemaCompatibility memoizes them. A recursive schema (`Node` with a field of type
 * `["null", "Node"]`) meets the pair it is checking again; a pair being checked is assumed
 * compatible, so the walk ends. A compatible verdict is kept only when it leaned on no
 * assumption about a pair further out (that pair may still fail); kept, it also spares a record
 * type used by many fields from being checked once per path.
 */
class RecordPairs {
  private readonly open = new Map<avro.Type, Map<avro.Type, number>>();
  private readonly compatible = new Map<avro.Type, Set<avro.Type>>();
  private depth = 0;
  /** Depth of the outermost open pair assumed compatible since the current pair opened. */
  private assumedAt = Infinity;

  /** Runs `body`, the pair's check, unless the pair is known compatible or being checked. */
  visit(reader: avro.Type, writer: avro.Type, ctx: Context, body: () => void): void {
    if (this.compatible.get(reader)?.has(writer)) return;
    const openAt = this.open.get(reader)?.get(writer);
    if (openAt !== undefined) {
      this.assumedAt = Math.min(this.assumedAt, openAt);
      return;
    }
    const depth = this.depth++;
    const [outerAssumption, reportedBefore] = [this.assumedAt, ctx.reported()];
    this.assumedAt = Infinity;
    const open = this.open.get(reader) ?? new Map<avro.Type, number>();
    this.open.set(reader, open.set(writer, depth));
    try {
      body();
    } finally {
      open.delete(writer);
      this.depth--;
    }
    const leanedOutward = this.assumedAt < depth;
    if (!leanedOutward && ctx.reported() === reportedBefore) this.markCompatible(reader, writer);
    this.assumedAt = Math.min(outerAssumption, leanedOutward ? this.assumedAt : Infinity);
  }

  private markCompatible(reader: avro.Type, writer: avro.Type): void {
    const writers = this.compatible.get(reader) ?? new Set<avro.Type>();
    this.compatible.set(reader, writers.add(writer));
  }
}

/** Logical types resolve as their underlying types, as the specification says. */
function physical(type: avro.Type): avro.Type {
  const logical = type as avro.Type & { underlyingType?: avro.Type };
  return logical.typeName.startsWith('logical:') && logical.underlyingType
    ? physical(logical.underlyingType)
    : type;
}

function kind(type: avro.Type): string {
  return type.typeName.replace(/^abstract:/, '').replace(/^union:.*$/, 'union');
}

const PROMOTIONS: Readonly<Record<string, readonly string[]>> = {
  int: ['long', 'float', 'double'],
  long: ['float', 'double'],
  float: ['double'],
  string: ['bytes'],
  bytes: ['string'],
};

function check(readerIn: avro.Type, writerIn: avro.Type, path: string, ctx: Context): void {
  const reader = physical(readerIn);
  const writer = physical(writerIn);
  const r = kind(reader);
  const w = kind(writer);
  if (w === 'union') {
    for (const branch of (writer as avro.types.WrappedUnionType).types) {
      check(reader, branch, path, ctx);
    }
    return;
  }
  if (r === 'union') {
    const branches = (reader as avro.types.WrappedUnionType).types;
    if (!branches.some((branch) => canRead(branch, writer, ctx))) {
      ctx.report(
        path,
        'MISSING_UNION_BRANCH',
        `${path}: the reader's union (${branches.map(kind).join(', ')}) has no type that reads the writer's ${describe(writer)}`,
      );
    }
    return;
  }
  if (r !== w) {
    if (!(PROMOTIONS[w] ?? []).includes(r)) {
      ctx.report(
        path,
        'TYPE_MISMATCH',
        `${path}: the writer's ${describe(writer)} cannot be read as the reader's ${describe(reader)}`,
      );
    }
    return;
  }
  if (['record', 'error', 'enum', 'fixed'].includes(r) && !sameName(reader, writer)) {
    ctx.report(
      path,
      'NAME_MISMATCH',
      `${path}: the reader's ${r} is named ${reader.name ?? ''}, the writer's ${writer.name ?? ''}`,
    );
    return;
  }
  COMPLEX[r]?.(reader, writer, path, ctx);
}

function canRead(reader: avro.Type, writer: avro.Type, ctx: Context): boolean {
  const trial = newContext(ctx.direction, () => undefined, ctx.records);
  check(reader, writer, '', trial);
  return trial.reported() === 0;
}

function describe(type: avro.Type): string {
  return type.name ? `${kind(type)} ${type.name}` : kind(type);
}

/** The specification matches named types by unqualified name (or an alias). */
function sameName(reader: avro.Type, writer: avro.Type): boolean {
  const short = (name: string | undefined) => (name ?? '').split('.').pop();
  const aliases = (reader as avro.Type & { aliases?: string[] }).aliases ?? [];
  return (
    short(reader.name) === short(writer.name) ||
    aliases.some((a) => short(a) === short(writer.name))
  );
}

const COMPLEX: Record<
  string,
  (reader: avro.Type, writer: avro.Type, path: string, ctx: Context) => void
> = {
  record: (reader, writer, path, ctx) =>
    ctx.records.visit(reader, writer, ctx, () => checkRecord(reader, writer, path, ctx)),
  error: (reader, writer, path, ctx) =>
    ctx.records.visit(reader, writer, ctx, () => checkRecord(reader, writer, path, ctx)),
  enum: (reader, writer, path, ctx) => {
    const readerSymbols = new Set((reader as avro.types.EnumType).symbols);
    const missing = (writer as avro.types.EnumType).symbols.filter((s) => !readerSymbols.has(s));
    const hasDefault = (reader as avro.Type & { default?: string }).default !== undefined;
    if (missing.length > 0 && !hasDefault) {
      ctx.report(
        path,
        'MISSING_ENUM_SYMBOLS',
        `${path}: the reader's enum lacks ${missing.join(', ')}, which the writer may write, and has no default`,
      );
    }
  },
  fixed: (reader, writer, path, ctx) => {
    const [rs, ws] = [(reader as avro.types.FixedType).size, (writer as avro.types.FixedType).size];
    if (rs !== ws)
      ctx.report(path, 'FIXED_SIZE_MISMATCH', `${path}: fixed of ${ws} bytes read as ${rs} bytes`);
  },
  array: (reader, writer, path, ctx) => {
    check(
      (reader as avro.types.ArrayType).itemsType,
      (writer as avro.types.ArrayType).itemsType,
      `${path}[]`,
      ctx,
    );
  },
  map: (reader, writer, path, ctx) => {
    check(
      (reader as avro.types.MapType).valuesType as avro.Type,
      (writer as avro.types.MapType).valuesType as avro.Type,
      `${path}{}`,
      ctx,
    );
  },
};

function checkRecord(reader: avro.Type, writer: avro.Type, path: string, ctx: Context): void {
  const writerFields = (writer as avro.types.RecordType).fields;
  for (const field of (reader as avro.types.RecordType).fields) {
    const names = [field.name, ...field.aliases];
    const match = writerFields.find((w) => names.includes(w.name));
    const fieldPath = `${path}.${field.name}`;
    if (match) {
      check(field.type, match.type, fieldPath, ctx);
    } else if (field.defaultValue() === undefined) {
      const [newer, older] = ctx.direction === 'new reads old' ? ['new', 'old'] : ['old', 'new'];
      ctx.report(
        fieldPath,
        'READER_FIELD_MISSING_DEFAULT_VALUE',
        `${fieldPath}: the ${newer} schema has this field without a default, and records written with the ${older} schema lack it`,
      );
    }
  }
}

function dedupe(problems: Incompatibility[]): Incompatibility[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.direction}|${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
