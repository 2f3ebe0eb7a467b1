/**
 * Types keep their meaning: every built-in type family goes through the driver and comes out as
 * an exact JSON value with its format_type name. The sessions run with fixed time zones (set in
 * the connection string) so timestamptz offsets are deterministic.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { JsonValue } from '../../../src/exec/drivers/driver.js'
import { createTestSchema, requirePostgres, withAdmin } from '../../helpers/postgres-env.js'
import { expectOk, openDriver, request, type DriverFixture } from './postgres-fixture.js'

type Case = readonly [sql: string, type: string, value: JsonValue]

const CASES: readonly Case[] = [
  // numbers
  ['1::int2', 'smallint', 1],
  ['(-32768)::int2', 'smallint', -32768],
  ['2147483647::int4', 'integer', 2147483647],
  ['9223372036854775807::int8', 'bigint', '9223372036854775807'],
  ['(-9223372036854775808)::int8', 'bigint', '-9223372036854775808'],
  ["'12345678901234567890.12345678901234567890'::numeric", 'numeric', '12345678901234567890.12345678901234567890'],
  ["'-0.000000000000000000000000000000000000001'::numeric", 'numeric', '-0.000000000000000000000000000000000000001'],
  ["'NaN'::numeric", 'numeric', 'NaN'],
  ["'Infinity'::numeric", 'numeric', 'Infinity'],
  ['1.5::float4', 'real', 1.5],
  ['0.1::float4', 'real', 0.1],
  ['0.1::float8', 'double precision', 0.1],
  ['1e308::float8', 'double precision', 1e308],
  ['2.2250738585072014e-308::float8', 'double precision', 2.2250738585072014e-308],
  ["'-0'::float8", 'double precision', -0],
  ["'NaN'::float8", 'double precision', 'NaN'],
  ["'Infinity'::float8", 'double precision', 'Infinity'],
  ["'-Infinity'::float4", 'real', '-Infinity'],
  ["'1234.56'::money", 'money', '$1,234.56'],
  ['42::oid', 'oid', 42],
  ['4294967295::oid', 'oid', 4294967295],
  ["'pg_class'::regclass", 'regclass', 'pg_class'],
  ["'pg_class'::regclass::oid", 'oid', 1259],
  ["'16/B374D848'::pg_lsn", 'pg_lsn', '16/B374D848'],
  // text
  ["'hello'::text", 'text', 'hello'],
  ["'abc'::varchar(5)", 'character varying', 'abc'],
  ["'ab'::char(4)", 'character', 'ab  '],
  ["'x'::\"char\"", '"char"', 'x'],
  ["'nm'::name", 'name', 'nm'],
  ["'ünïcødé ✓ 🎉 日本'::text", 'text', 'ünïcødé ✓ 🎉 日本'],
  ["E'quote\" back\\\\slash\\nnew line\\ttab'", 'text', 'quote" back\\slash\nnew line\ttab'],
  ["'abc'", 'text', 'abc'],
  // binary and boolean
  ["'\\x000102ff'::bytea", 'bytea', 'AAEC/w=='],
  ["''::bytea", 'bytea', ''],
  ["convert_to('ü', 'UTF8')", 'bytea', 'w7w='],
  ['true', 'boolean', true],
  ['false', 'boolean', false],
  // date and time
  ["'2024-01-02'::date", 'date', '2024-01-02'],
  ["'infinity'::date", 'date', 'infinity'],
  ["'-infinity'::date", 'date', '-infinity'],
  ["'0044-03-15 BC'::date", 'date', '-000043-03-15'],
  ["'0001-01-01 BC'::date", 'date', '0000-01-01'],
  ["'10000-01-01'::date", 'date', '+010000-01-01'],
  ["'03:04:05.123456'::time", 'time without time zone', '03:04:05.123456'],
  ["'03:04:05+02'::timetz", 'time with time zone', '03:04:05+02'],
  ["'2024-01-02 03:04:05.123456'::timestamp", 'timestamp without time zone', '2024-01-02T03:04:05.123456'],
  ["'2024-01-02 03:04:05'::timestamp", 'timestamp without time zone', '2024-01-02T03:04:05'],
  ["'infinity'::timestamp", 'timestamp without time zone', 'infinity'],
  ["'0044-03-15 10:00:00 BC'::timestamp", 'timestamp without time zone', '-000043-03-15T10:00:00'],
  ["'2024-01-02 03:04:05.123456+00'::timestamptz", 'timestamp with time zone', '2024-01-02T03:04:05.123456+00:00'],
  ["'2024-01-02 03:04:05.5-05:30'::timestamptz", 'timestamp with time zone', '2024-01-02T08:34:05.5+00:00'],
  ["'-infinity'::timestamptz", 'timestamp with time zone', '-infinity'],
  ["'0044-03-15 10:00:00+00 BC'::timestamptz", 'timestamp with time zone', '-000043-03-15T10:00:00+00:00'],
  ["'1 year 2 mons 3 days 04:05:06.789'::interval", 'interval', '1 year 2 mons 3 days 04:05:06.789'],
  ["'-1 day'::interval", 'interval', '-1 days'],
  // identifiers, JSON
  ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid", 'uuid', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
  [`'{"a": [1, 2.5, "x", null, true], "b": {"c": "ü✓ \\"q\\""}}'::json`, 'json', { a: [1, 2.5, 'x', null, true], b: { c: 'ü✓ "q"' } }],
  [`'{"z": 1, "a": {"n": [[]]}}'::jsonb`, 'jsonb', { a: { n: [[]] }, z: 1 }],
  [`'"just a string"'::jsonb`, 'jsonb', 'just a string'],
  [`'12.50'::jsonb`, 'jsonb', 12.5],
  ["'[]'::json", 'json', []],
  ["'$.a'::jsonpath", 'jsonpath', '$."a"'],
  // arrays
  ['ARRAY[1, 2, 3]', 'integer[]', [1, 2, 3]],
  ["'{{1,2},{3,4}}'::int[]", 'integer[]', [[1, 2], [3, 4]]],
  ["'{{{1}},{{2}}}'::int[]", 'integer[]', [[[1]], [[2]]]],
  ['ARRAY[1, NULL, 3]', 'integer[]', [1, null, 3]],
  ["'{}'::int[]", 'integer[]', []],
  ["'[0:1]={5,6}'::int[]", 'integer[]', [5, 6]],
  [`ARRAY['a,b', 'c"d', 'NULL', NULL, '', ' s ', 'e\\f', '{x}']::text[]`, 'text[]', ['a,b', 'c"d', 'NULL', null, '', ' s ', 'e\\f', '{x}']],
  ["ARRAY[9223372036854775807]::int8[]", 'bigint[]', ['9223372036854775807']],
  ['ARRAY[1.5::numeric, 2]', 'numeric[]', ['1.5', '2']],
  ["ARRAY['NaN'::float8, 1.5]", 'double precision[]', ['NaN', 1.5]],
  ['ARRAY[true, false, NULL]', 'boolean[]', [true, false, null]],
  ["ARRAY['2024-01-02'::date, 'infinity']", 'date[]', ['2024-01-02', 'infinity']],
  ["ARRAY['2024-01-02 03:04:05+00'::timestamptz]", 'timestamp with time zone[]', ['2024-01-02T03:04:05+00:00']],
  ["ARRAY['2024-01-02 03:04:05'::timestamp]", 'timestamp without time zone[]', ['2024-01-02T03:04:05']],
  [`ARRAY['{"a": 1}'::jsonb, '[1, "x,y"]']`, 'jsonb[]', [{ a: 1 }, [1, 'x,y']]],
  ["ARRAY['\\x01'::bytea, NULL]", 'bytea[]', ['AQ==', null]],
  ["ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid]", 'uuid[]', ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11']],
  ["ARRAY[box '((1,1),(0,0))', box '((2,2),(1,1))']", 'box[]', ['(1,1),(0,0)', '(2,2),(1,1)']],
  ["ARRAY[point '(1,2)', NULL]", 'point[]', ['(1,2)', null]],
  ['ARRAY[int4range(1, 2)]', 'int4range[]', ['[1,2)']],
  ["ARRAY['nm'::name]", 'name[]', ['nm']],
  ["ARRAY['1 day'::interval]", 'interval[]', ['1 day']],
  // ranges and multiranges
  ['int4range(1, 10)', 'int4range', '[1,10)'],
  ["'empty'::int4range", 'int4range', 'empty'],
  ['int8range(1, NULL)', 'int8range', '[1,)'],
  ['numrange(1.5, 2.25)', 'numrange', '[1.5,2.25)'],
  ["'[2024-01-01,2024-02-01)'::daterange", 'daterange', '[2024-01-01,2024-02-01)'],
  ["tstzrange('2024-01-01 00:00+00', '2024-01-02 00:00+00')", 'tstzrange', '["2024-01-01 00:00:00+00","2024-01-02 00:00:00+00")'],
  ["'{[1,3), [5,7)}'::int4multirange", 'int4multirange', '{[1,3),[5,7)}'],
  ["'{}'::datemultirange", 'datemultirange', '{}'],
  // network and bit strings
  ["'192.168.0.1/24'::inet", 'inet', '192.168.0.1/24'],
  ["'::1'::inet", 'inet', '::1'],
  ["'10.0.0.0/8'::cidr", 'cidr', '10.0.0.0/8'],
  ["'08:00:2b:01:02:03'::macaddr", 'macaddr', '08:00:2b:01:02:03'],
  ["'08:00:2b:01:02:03:04:05'::macaddr8", 'macaddr8', '08:00:2b:01:02:03:04:05'],
  ["B'1010'::bit(4)", 'bit', '1010'],
  ["B'101'::varbit", 'bit varying', '101'],
  // geometric
  ["point '(1,2)'", 'point', '(1,2)'],
  ["lseg '[(1,2),(3,4)]'", 'lseg', '[(1,2),(3,4)]'],
  ["box '((3,4),(1,2))'", 'box', '(3,4),(1,2)'],
  ["path '((1,2),(3,4))'", 'path', '((1,2),(3,4))'],
  ["polygon '((0,0),(1,1),(1,0))'", 'polygon', '((0,0),(1,1),(1,0))'],
  ["circle '<(1,2),3>'", 'circle', '<(1,2),3>'],
  ["line '{1,-1,0}'", 'line', '{1,-1,0}'],
  // text search, xml
  ["to_tsvector('simple', 'The quick fox')", 'tsvector', "'fox':3 'quick':2 'the':1"],
  ["'fat & rat'::tsquery", 'tsquery', "'fat' & 'rat'"],
  ["'<a b=\"1\">x</a>'::xml", 'xml', '<a b="1">x</a>'],
  // user-defined: enum, domain, composite, range (resolved through the catalog once, then cached)
  ["'happy'::mood", 'mood', 'happy'],
  ["ARRAY['sad', 'happy']::mood[]", 'mood[]', ['sad', 'happy']],
  ['5::posint', 'integer', 5],
  ["'{5,NULL}'::posint[]", 'posint[]', [5, null]],
  ['ARRAY[5::posint]', 'posint[]', [5]],
  ["'{7}'::posint2[]", 'posint2[]', [7]],
  [`'{"{\\"k\\": 1}"}'::jdom[]`, 'jdom[]', [{ k: 1 }]],
  ["ROW(1, 'x, \"y\"')::pair", 'pair', '(1,"x, ""y""")'],
  ["ARRAY[ROW(1, 'x')::pair]", 'pair[]', ['(1,x)']],
  ["ROW(1, 'a')", 'record', '(1,a)'],
  ['floatrange(1.5, 2.5)', 'floatrange', '[1.5,2.5)'],
  // NULLs
  ['NULL::int', 'integer', null],
  ['NULL::text', 'text', null],
  ['NULL::int[]', 'integer[]', null],
  ['NULL::jsonb', 'jsonb', null],
  ['NULL::mood', 'mood', null],
]

describe('postgres driver: value round trip', () => {
  let utc: DriverFixture
  let kolkata: DriverFixture
  let schema: { name: string; drop: () => Promise<void> }

  before(async () => {
    const url = await requirePostgres()
    schema = await createTestSchema(url, 'sw_types')
    const s = schema.name
    await withAdmin(url, (c) =>
      c.query(`
        CREATE TYPE ${s}.mood AS ENUM ('sad', 'happy');
        CREATE DOMAIN ${s}.posint AS int CHECK (VALUE > 0);
        CREATE DOMAIN ${s}.posint2 AS ${s}.posint;
        CREATE DOMAIN ${s}.jdom AS jsonb;
        CREATE TYPE ${s}.pair AS (a int, b text);
        CREATE TYPE ${s}.floatrange AS RANGE (subtype = float8);
      `),
    )
    const withZone = (zone: string) => {
      const u = new URL(url)
      u.searchParams.set('options', `-c TimeZone=${zone}`)
      return u.toString()
    }
    utc = await openDriver({ connectionString: withZone('UTC'), searchPath: [s, 'public'] })
    kolkata = await openDriver({ connectionString: withZone('Asia/Kolkata'), searchPath: [s, 'public'] })
  })

  after(async () => {
    await utc?.driver.close()
    await kolkata?.driver.close()
    await schema?.drop()
  })

  for (const [sql, type, value] of CASES) {
    test(`${sql} → ${type}`, async () => {
      const r = expectOk(await utc.driver.read(request(`SELECT ${sql} AS v`)))
      assert.deepEqual(r.columns, [{ name: 'v', type }])
      assert.deepEqual(r.rows, [[value]])
    })
  }

  test('every case in one row: conversions do not depend on neighbours', async () => {
    const sql = `SELECT ${CASES.map(([expr], i) => `${expr} AS c${i}`).join(', ')}`
    const r = expectOk(await utc.driver.read(request(sql)))
    assert.deepEqual(r.columns.map((c) => c.type), CASES.map(([, type]) => type))
    assert.deepEqual(r.rows, [CASES.map(([, , value]) => value)])
  })

  test('timestamptz keeps the session offset, including historical second offsets', async () => {
    const r = expectOk(
      await kolkata.driver.read(request("SELECT '2024-01-02 00:00:00+00'::timestamptz, '1900-01-01 00:00:00+00'::timestamptz, ARRAY['2024-01-02 00:00:00.25+00'::timestamptz]")),
    )
    const [modern, historical, array] = r.rows[0] ?? []
    assert.equal(modern, '2024-01-02T05:30:00+05:30')
    assert.deepEqual(array, ['2024-01-02T05:30:00.25+05:30'])
    // Local mean time before 1906: an offset with seconds (its value depends on the tzdata version).
    const m = /^1900-01-01T(\d{2}:\d{2}:\d{2})\+(\d{2}:\d{2}:\d{2})$/.exec(String(historical))
    assert.ok(m !== null && m[1] === m[2], String(historical))
  })

  test('user types resolved while capping: names right, rows capped, bytes re-measured', async () => {
    const fresh = await openDriver({ searchPath: [schema.name] })
    try {
      const rows = expectOk(await fresh.driver.read(request("SELECT ARRAY['happy'::mood, 'sad'] AS m FROM generate_series(1, 10)", [], { maxRows: 3 })))
      assert.deepEqual(rows.columns, [{ name: 'm', type: 'mood[]' }])
      assert.deepEqual(rows.rows, [[['happy', 'sad']], [['happy', 'sad']], [['happy', 'sad']]])
      assert.equal(rows.truncatedBy, 'rows')
      assert.equal(rows.bytes, 3 * Buffer.byteLength('[["happy","sad"]]'))
      const bytes = expectOk(await fresh.driver.read(request("SELECT ROW(g, 'x')::pair FROM generate_series(1, 10) g", [], { maxBytes: 20 })))
      assert.deepEqual(bytes.rows, [['(1,x)'], ['(2,x)']])
      assert.equal(bytes.truncatedBy, 'bytes')
    } finally {
      await fresh.driver.close()
    }
  })
})
