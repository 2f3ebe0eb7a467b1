/**
 * Catalog methods: schemas, tables, table descriptions (resolved through the fixed search path,
 * as the engine resolves them), function and operator candidates, and the role report for both
 * the superuser and a narrow role.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTestSchema, requirePostgres, uniqueName, withAdmin } from '../../helpers/postgres-env.js'
import { LIMITS, expectOk, openDriver, type DriverFixture } from './postgres-fixture.js'

describe('postgres driver: catalog', () => {
  let fx: DriverFixture
  let s: string
  let s2: string
  const drops: (() => Promise<void>)[] = []

  before(async () => {
    const url = await requirePostgres()
    const one = await createTestSchema(url, 'sw_cat')
    drops.push(one.drop)
    const two = await createTestSchema(url, 'sw_cat2')
    drops.push(two.drop)
    s = one.name
    s2 = two.name
    await withAdmin(url, (c) =>
      c.query(`
        COMMENT ON SCHEMA ${s} IS 'catalog test schema';
        CREATE TABLE ${s}.parent (id int PRIMARY KEY, code text NOT NULL DEFAULT 'x', "Odd, name" varchar(20));
        COMMENT ON TABLE ${s}.parent IS 'parents';
        COMMENT ON COLUMN ${s}.parent.code IS 'the code';
        CREATE TABLE ${s}.child (id bigserial, parent_id int NOT NULL REFERENCES ${s}.parent (id), tag text,
          PRIMARY KEY (id, parent_id));
        CREATE UNIQUE INDEX child_tag_idx ON ${s}.child (tag);
        CREATE VIEW ${s}.parent_view AS SELECT id FROM ${s}.parent;
        CREATE MATERIALIZED VIEW ${s}.mv AS SELECT 1 AS one;
        CREATE TABLE ${s}.shadowed (a int);
        CREATE TABLE ${s2}.shadowed (b int);
        CREATE FUNCTION ${s}.sw_secdef() RETURNS int LANGUAGE sql SECURITY DEFINER VOLATILE AS 'SELECT 1';
        CREATE FUNCTION ${s}.sw_add(int, int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + $2';
        CREATE OPERATOR ${s}.#%# (LEFTARG = int, RIGHTARG = int, FUNCTION = ${s}.sw_add);
      `),
    )
    fx = await openDriver({ searchPath: [s2, s] })
  })

  after(async () => {
    await fx?.driver.close()
    for (const drop of drops) await drop()
  })

  test('listSchemas: user schemas with owner and comment, system schemas left out', async () => {
    const schemas = expectOk(await fx.driver.listSchemas(LIMITS))
    assert.deepEqual(schemas.find((x) => x.name === s), { name: s, owner: 'postgres', comment: 'catalog test schema' })
    for (const hidden of ['pg_catalog', 'information_schema', 'pg_toast']) assert.ok(!schemas.some((x) => x.name === hidden))
  })

  test('listTables: one schema, or every user schema', async () => {
    const tables = expectOk(await fx.driver.listTables(s, LIMITS))
    assert.deepEqual(
      tables.map((t) => [t.name, t.kind]),
      [
        ['child', 'table'],
        ['mv', 'materialized_view'],
        ['parent', 'table'],
        ['parent_view', 'view'],
        ['shadowed', 'table'],
      ],
    )
    assert.equal(tables.find((t) => t.name === 'parent')?.comment, 'parents')
    const all = expectOk(await fx.driver.listTables(null, LIMITS))
    assert.ok(all.some((t) => t.schema === s2 && t.name === 'shadowed'))
    assert.ok(!all.some((t) => t.schema === 'pg_catalog'))
    const asked = expectOk(await fx.driver.listTables('pg_catalog', LIMITS))
    assert.ok(asked.some((t) => t.name === 'pg_class'))
    assert.equal(expectOk(await fx.driver.listTables(s, { ...LIMITS, maxRows: 2 })).length, 2)
  })

  test('describeTable: columns, primary key, foreign keys, indexes, comments', async () => {
    const parent = expectOk(await fx.driver.describeTable(s, 'parent', LIMITS))
    assert.deepEqual(parent, {
      schema: s,
      name: 'parent',
      kind: 'table',
      comment: 'parents',
      columns: [
        { name: 'id', type: 'integer', nullable: false, default: null, comment: null },
        { name: 'code', type: 'text', nullable: false, default: "'x'::text", comment: 'the code' },
        { name: 'Odd, name', type: 'character varying(20)', nullable: true, default: null, comment: null },
      ],
      primaryKey: ['id'],
      foreignKeys: [],
      indexes: [{ name: 'parent_pkey', unique: true, primary: true, definition: `CREATE UNIQUE INDEX parent_pkey ON ${s}.parent USING btree (id)` }],
    })
    const child = expectOk(await fx.driver.describeTable(s, 'child', LIMITS))
    assert.deepEqual(child?.primaryKey, ['id', 'parent_id'])
    assert.deepEqual(child?.foreignKeys, [
      { name: 'child_parent_id_fkey', columns: ['parent_id'], referencedSchema: s, referencedTable: 'parent', referencedColumns: ['id'] },
    ])
    assert.deepEqual(child?.indexes.map((i) => [i.name, i.unique, i.primary]), [
      ['child_pkey', true, true],
      ['child_tag_idx', true, false],
    ])
    assert.match(child?.columns[0]?.default ?? '', /^nextval\(/)
  })

  test('describeTable: unqualified names resolve in search-path order; unknown names are null', async () => {
    const shadowed = expectOk(await fx.driver.describeTable(null, 'shadowed', LIMITS))
    assert.equal(shadowed?.schema, s2)
    assert.deepEqual(shadowed?.columns.map((c) => c.name), ['b'])
    assert.equal(expectOk(await fx.driver.describeTable(null, 'parent', LIMITS))?.schema, s)
    assert.equal(expectOk(await fx.driver.describeTable(null, 'no_such_table', LIMITS)), null)
    assert.equal(expectOk(await fx.driver.describeTable(s2, 'parent', LIMITS)), null)
    assert.equal(expectOk(await fx.driver.describeTable(null, 'pg_class', LIMITS))?.schema, 'pg_catalog')
    assert.equal(expectOk(await fx.driver.describeTable(s, 'parent_view', LIMITS))?.kind, 'view')
  })

  test('lookupFunctions: candidates in every schema with volatility, security definer and kind', async () => {
    const found = expectOk(await fx.driver.lookupFunctions(['sw_secdef', 'pg_sleep', 'count', 'no_such_fn']))
    assert.deepEqual(found.find((f) => f.name === 'sw_secdef'), { schema: s, name: 'sw_secdef', argCount: 0, volatility: 'v', securityDefiner: true, kind: 'f' })
    assert.deepEqual(found.find((f) => f.name === 'pg_sleep'), { schema: 'pg_catalog', name: 'pg_sleep', argCount: 1, volatility: 'v', securityDefiner: false, kind: 'f' })
    assert.ok(found.some((f) => f.name === 'count' && f.kind === 'a'))
    assert.ok(!found.some((f) => f.name === 'no_such_fn'))
    assert.deepEqual(expectOk(await fx.driver.lookupFunctions([])), [])
  })

  test('lookupOperators: the function behind each operator', async () => {
    const found = expectOk(await fx.driver.lookupOperators(['#%#', '||']))
    assert.deepEqual(found.find((o) => o.name === '#%#'), {
      schema: s,
      name: '#%#',
      function: { schema: s, name: 'sw_add', argCount: 2, volatility: 'i', securityDefiner: false, kind: 'f' },
    })
    assert.ok(found.some((o) => o.name === '||' && o.function.name === 'textcat'))
  })

  test('inspectRole: the superuser', async () => {
    const role = expectOk(await fx.driver.inspectRole())
    assert.equal(role.role, 'postgres')
    assert.equal(role.superuser, true)
    assert.equal(role.bypassRls, true)
    assert.match(role.serverVersion, /^\d+/)
    for (const p of [`INSERT ON ${s}.parent`, `TRUNCATE ON ${s}.child`, `CREATE ON SCHEMA ${s}`, `UPDATE ON SEQUENCE ${s}.child_id_seq`]) {
      assert.ok(role.writePrivileges.includes(p), p)
    }
  })

  test('inspectRole: a narrow role, with memberships followed recursively', async () => {
    const reader = uniqueName('sw_reader')
    const group = uniqueName('sw_group')
    const outer = uniqueName('sw_outer')
    await withAdmin(fx.url, (c) =>
      c.query(`CREATE ROLE ${outer}; CREATE ROLE ${group} IN ROLE ${outer}; CREATE ROLE ${reader} LOGIN IN ROLE ${group};
        GRANT USAGE ON SCHEMA ${s} TO ${reader}; GRANT SELECT ON ${s}.parent TO ${reader};
        GRANT UPDATE (code) ON ${s}.parent TO ${group}`),
    )
    const url = new URL(fx.url)
    url.username = reader
    const narrow = await openDriver({ connectionString: url.toString(), searchPath: [s] })
    try {
      const role = expectOk(await narrow.driver.inspectRole())
      assert.equal(role.role, reader)
      assert.equal(role.superuser, false)
      assert.equal(role.bypassRls, false)
      assert.deepEqual(role.memberOf, [group, outer].sort())
      assert.ok(role.writePrivileges.includes(`UPDATE ON ${s}.parent`))
      assert.ok(!role.writePrivileges.some((p) => p.startsWith('INSERT') || p.startsWith('DELETE')))
      // Only tables the role can read are listed or described.
      assert.deepEqual(expectOk(await narrow.driver.listTables(s, LIMITS)).map((t) => t.name), ['parent'])
      assert.equal(expectOk(await narrow.driver.describeTable(s, 'child', LIMITS)), null)
    } finally {
      await narrow.driver.close()
      await withAdmin(fx.url, (c) =>
        c.query(`REVOKE ALL ON ${s}.parent FROM ${reader}, ${group}; REVOKE ALL ON SCHEMA ${s} FROM ${reader};
          DROP ROLE ${reader}; DROP ROLE ${group}; DROP ROLE ${outer}`),
      )
    }
  })
})
