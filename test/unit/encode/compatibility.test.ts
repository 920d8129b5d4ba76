import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import avro from 'avsc';
import { checkCompatibility } from '../../../src/encode/compatibility.ts';
import { eventSchemaOptions } from '../../../src/encode/schema-directory.ts';

function record(fields: unknown[], name = 'OrderPlaced'): avro.Type {
  return avro.Type.forSchema(
    { type: 'record', name, namespace: 'com.example', fields } as avro.Schema,
    eventSchemaOptions(),
  );
}

const V1 = record([
  { name: 'id', type: 'string' },
  { name: 'count', type: 'int' },
]);

describe('schema compatibility', () => {
  it('lets a new field with a default pass BACKWARD and FULL', () => {
    const v2 = record([
      { name: 'id', type: 'string' },
      { name: 'count', type: 'int' },
      { name: 'note', type: ['null', 'string'], default: null },
    ]);
    assert.deepEqual(checkCompatibility(v2, [V1], 'BACKWARD'), []);
    assert.deepEqual(checkCompatibility(v2, [V1], 'FULL'), []);
  });

  it('names a new field without a default under BACKWARD, and passes it under FORWARD', () => {
    const v2 = record([
      { name: 'id', type: 'string' },
      { name: 'count', type: 'int' },
      { name: 'total', type: { type: 'bytes', logicalType: 'decimal', precision: 9, scale: 2 } },
    ]);
    const problems = checkCompatibility(v2, [V1], 'BACKWARD');
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.path, 'com.example.OrderPlaced.total');
    assert.equal(problems[0]?.rule, 'READER_FIELD_MISSING_DEFAULT_VALUE');
    assert.deepEqual(checkCompatibility(v2, [V1], 'FORWARD'), []);
  });

  it("allows the specification's promotions one way only", () => {
    const wider = record([
      { name: 'id', type: 'string' },
      { name: 'count', type: 'long' },
    ]);
    assert.deepEqual(checkCompatibility(wider, [V1], 'BACKWARD'), []);
    const [problem] = checkCompatibility(wider, [V1], 'FORWARD');
    assert.equal(problem?.rule, 'TYPE_MISMATCH');
    assert.equal(problem?.path, 'com.example.OrderPlaced.count');
    assert.match(problem?.message ?? '', /writer's long cannot be read as the reader's int/);
  });

  it('checks enums, unions, nested records and arrays, naming the path', () => {
    const old = record([
      {
        name: 'status',
        type: { type: 'enum', name: 'Status', symbols: ['NEW', 'PAID', 'SHIPPED'] },
      },
      {
        name: 'lines',
        type: {
          type: 'array',
          items: { type: 'record', name: 'Line', fields: [{ name: 'sku', type: 'string' }] },
        },
      },
      { name: 'note', type: ['null', 'string', 'int'] },
    ]);
    const next = record([
      { name: 'status', type: { type: 'enum', name: 'Status', symbols: ['NEW', 'PAID'] } },
      {
        name: 'lines',
        type: {
          type: 'array',
          items: { type: 'record', name: 'Line', fields: [{ name: 'sku', type: 'int' }] },
        },
      },
      { name: 'note', type: ['null', 'string'] },
    ]);
    const rules = checkCompatibility(next, [old], 'BACKWARD').map((p) => `${p.rule} ${p.path}`);
    assert.deepEqual(rules, [
      'MISSING_ENUM_SYMBOLS com.example.OrderPlaced.status',
      'TYPE_MISMATCH com.example.OrderPlaced.lines[].sku',
      'MISSING_UNION_BRANCH com.example.OrderPlaced.note',
    ]);
  });

  it('checks every earlier version only when transitive', () => {
    const v2 = record([
      { name: 'id', type: 'string' },
      { name: 'count', type: 'int' },
      { name: 'x', type: 'int', default: 0 },
    ]);
    const v3 = record([
      { name: 'id', type: 'string' },
      { name: 'x', type: 'int' },
    ]);
    assert.deepEqual(checkCompatibility(v3, [V1, v2], 'BACKWARD'), []);
    const transitive = checkCompatibility(v3, [V1, v2], 'BACKWARD_TRANSITIVE');
    assert.deepEqual(
      transitive.map((p) => p.path),
      ['com.example.OrderPlaced.x'],
    );
    assert.deepEqual(checkCompatibility(v3, [V1], 'NONE'), []);
  });

  it('refuses a record renamed without an alias', () => {
    const renamed = record(
      [
        { name: 'id', type: 'string' },
        { name: 'count', type: 'int' },
      ],
      'OrderCreated',
    );
    assert.equal(checkCompatibility(renamed, [V1], 'BACKWARD')[0]?.rule, 'NAME_MISMATCH');
  });

  it('checks a recursive schema against itself and its evolutions without overflowing', () => {
    const node = (extra: unknown[] = [], next: unknown = ['null', 'Node']) =>
      avro.Type.forSchema(
        {
          type: 'record',
          name: 'Node',
          fields: [{ name: 'value', type: 'int' }, { name: 'next', type: next }, ...extra],
        } as avro.Schema,
        eventSchemaOptions(),
      );
    assert.deepEqual(checkCompatibility(node(), [node()], 'FULL_TRANSITIVE'), []);
    const withDefault = node([{ name: 'label', type: 'string', default: '' }]);
    assert.deepEqual(checkCompatibility(withDefault, [node()], 'FULL'), []);
    const without = node([{ name: 'label', type: 'string' }]);
    assert.deepEqual(
      checkCompatibility(without, [node()], 'BACKWARD').map((p) => `${p.rule} ${p.path}`),
      ['READER_FIELD_MISSING_DEFAULT_VALUE Node.label'],
    );
    const children = node([], { type: 'array', items: 'Node' });
    assert.equal(checkCompatibility(children, [node()], 'BACKWARD')[0]?.rule, 'TYPE_MISMATCH');
  });

  it('finds a problem one level down a recursive schema, and across mutual recursion', () => {
    const tree = (leaf: string) =>
      avro.Type.forSchema(
        {
          type: 'record',
          name: 'Tree',
          fields: [
            {
              name: 'branches',
              type: {
                type: 'array',
                items: {
                  type: 'record',
                  name: 'Branch',
                  fields: [
                    { name: 'weight', type: leaf },
                    { name: 'subtree', type: ['null', 'Tree'] },
                  ],
                },
              },
            },
          ],
        },
        eventSchemaOptions(),
      );
    assert.deepEqual(checkCompatibility(tree('long'), [tree('int')], 'BACKWARD'), []);
    assert.deepEqual(
      checkCompatibility(tree('int'), [tree('long')], 'BACKWARD').map((p) => p.path),
      ['Tree.branches[].weight'],
    );
  });
});
