/**
 * The function policy against a fake catalog: builtin allowlist, UDF rule, denylist precedence,
 * attribute notation, operators, current_setting, batching, caching and failing closed.
 */
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import type { FunctionInfo, OperatorInfo } from '../../../src/exec/drivers/driver.js'
import { CatalogCache, checkFunctions, type FunctionPolicyDeps } from '../../../src/policy/function-policy.js'
import { analyzeSql } from '../../../src/sql/analyze-sql.js'
import { loadPostgresParser } from '../../../src/sql/parser/postgres-parser.js'
import type { QueryAnalysis } from '../../../src/sql/query-analysis.js'
import { fail, ok, type Result } from '../../../src/util/result.js'
import { createFakePostgresCatalog, fn, type FakeCatalog } from '../../security/fake-postgres-catalog.js'

before(async () => {
  await loadPostgresParser()
})

function analysis(sql: string): QueryAnalysis {
  const result = analyzeSql(sql, { maxSqlLength: 20_000, maxSqlDepth: 100 })
  if (!result.ok) assert.fail(`analysis refused ${sql}: ${result.code} ${result.subject ?? ''}`)
  return result.value
}

function deps(catalog: FakeCatalog, extra: Partial<FunctionPolicyDeps> = {}): FunctionPolicyDeps {
  return {
    lookupFunctions: (names) => catalog.lookupFunctions(names),
    lookupOperators: (names) => catalog.lookupOperators(names),
    allowFunctions: [],
    searchPath: catalog.searchPath,
    ...extra,
  }
}

async function decide(sql: string, catalog = createFakePostgresCatalog(), extra: Partial<FunctionPolicyDeps> = {}): Promise<Result<void>> {
  return checkFunctions(analysis(sql), deps(catalog, extra))
}

async function assertAllowed(sql: string, catalog?: FakeCatalog, extra?: Partial<FunctionPolicyDeps>): Promise<void> {
  const result = await decide(sql, catalog, extra)
  assert.ok(result.ok, `${sql} → ${result.ok ? '' : `${result.code} ${result.subject ?? ''}`}`)
}

async function assertDenied(
  sql: string,
  subject: string,
  code = 'ERR_SQL_FORBIDDEN_FUNCTION',
  catalog?: FakeCatalog,
  extra?: Partial<FunctionPolicyDeps>,
): Promise<void> {
  const result = await decide(sql, catalog, extra)
  assert.ok(!result.ok, `${sql} should be denied`)
  assert.equal(result.code, code, sql)
  assert.equal(result.subject, subject, sql)
}

/** A catalog with the fake's rows plus the given extra ones. */
function catalogWith(functions: FunctionInfo[] = [], operators: OperatorInfo[] = []): FakeCatalog {
  const catalog = createFakePostgresCatalog()
  catalog.functions.push(...functions)
  catalog.operators.push(...operators)
  return catalog
}

describe('builtin functions', () => {
  test('allowlisted builtins, unqualified or pg_catalog-qualified', async () => {
    await assertAllowed("SELECT lower(name), count(*), date_trunc('day', now()) FROM customers GROUP BY 1")
    await assertAllowed('SELECT pg_catalog.upper(name) FROM customers')
  })

  test('pg_catalog-qualified names are decided by the allowlist without a catalog round trip', async () => {
    const catalog = createFakePostgresCatalog()
    await assertAllowed('SELECT pg_catalog.now(), pg_catalog.lower($1)', catalog)
    await assertDenied('SELECT pg_catalog.pg_stat_get_activity(NULL)', 'pg_stat_get_activity', undefined, catalog)
    assert.deepEqual(catalog.functionLookups, [])
  })

  test('a pg_catalog function nobody reviewed is denied', async () => {
    await assertDenied('SELECT * FROM pg_stat_get_activity(NULL)', 'pg_stat_get_activity')
    await assertDenied('SELECT pg_lock_status()', 'pg_lock_status')
  })

  test('a function with no visible candidate is denied (fail closed)', async () => {
    await assertDenied('SELECT no_such_function(1)', 'no_such_function')
    await assertDenied('SELECT canary.reset_items()', 'reset_items')
    await assertDenied('SELECT pg_temp.evil()', 'evil')
  })
})

describe('denylist', () => {
  test('denied names are refused before any lookup', async () => {
    const catalog = createFakePostgresCatalog()
    for (const [sql, subject] of [
      ['SELECT pg_sleep(1)', 'pg_sleep'],
      ["SELECT set_config('a', 'b', false)", 'set_config'],
      ["SELECT pg_catalog.nextval('s')", 'nextval'],
      ["SELECT public.dblink('x', 'y')", 'dblink'],
      ['SELECT pg_stat_reset_slru(NULL)', 'pg_stat_reset_slru'],
      ['SELECT "PG_SLEEP"(1)', 'PG_SLEEP'],
    ] as const) {
      await assertDenied(sql, subject, undefined, catalog)
    }
    assert.deepEqual(catalog.functionLookups, [])
  })

  test('the denylist wins over allowFunctions and over a harmless-looking user function', async () => {
    const catalog = catalogWith([fn('public', 'pg_sleep', 'i')])
    await assertDenied('SELECT pg_sleep(1)', 'pg_sleep', undefined, catalog, { allowFunctions: ['pg_sleep', 'public.pg_sleep'] })
    await assertDenied('SELECT public.pg_sleep(1)', 'pg_sleep', undefined, catalog, { allowFunctions: ['public.pg_sleep'] })
  })

  test('the subject is the name from the parse tree, never the SQL text', async () => {
    const result = await decide("SELECT U&\"s\\0065tval\"('canary.seq', 1) /* secret */")
    assert.ok(!result.ok)
    assert.equal(result.subject, 'setval')
  })
})

describe('user functions (the UDF rule)', () => {
  test('IMMUTABLE and STABLE user functions are allowed, qualified or not', async () => {
    await assertAllowed('SELECT safe_discount(price), public.customer_label(id) FROM products')
  })

  test('VOLATILE, SECURITY DEFINER and procedures are denied', async () => {
    await assertDenied('SELECT audit_touch()', 'audit_touch')
    await assertDenied('SELECT public.secdef_lookup(1)', 'secdef_lookup')
    await assertDenied("SELECT do_work(1, 'x')", 'do_work')
  })

  test('allowFunctions admits a reviewed user function by name or schema.name', async () => {
    await assertAllowed('SELECT audit_touch()', undefined, { allowFunctions: ['audit_touch'] })
    await assertAllowed('SELECT secdef_lookup(1)', undefined, { allowFunctions: ['public.secdef_lookup'] })
    await assertDenied('SELECT secdef_lookup(1)', 'secdef_lookup', undefined, undefined, { allowFunctions: ['other.secdef_lookup'] })
    await assertDenied('SELECT secdef_lookup(1)', 'secdef_lookup', undefined, undefined, { allowFunctions: ['SECDEF_LOOKUP'] })
  })

  test('allowFunctions does not extend the builtin allowlist', async () => {
    await assertDenied('SELECT pg_lock_status()', 'pg_lock_status', undefined, undefined, { allowFunctions: ['pg_lock_status', 'pg_catalog.pg_lock_status'] })
  })

  test('a user overload of a builtin name must pass the UDF rule too', async () => {
    const catalog = catalogWith([fn('public', 'lower', 'v')])
    await assertDenied('SELECT lower(name) FROM customers', 'lower', undefined, catalog)
    await assertAllowed('SELECT pg_catalog.lower(name) FROM customers', catalog)
    await assertAllowed('SELECT lower(name) FROM customers', catalog, { allowFunctions: ['public.lower'] })
  })

  test('every overload counts, whatever its argument count', async () => {
    const catalog = catalogWith([fn('public', 'safe_discount', 'v', { argCount: 3 })])
    await assertDenied('SELECT safe_discount(price) FROM products', 'safe_discount', undefined, catalog)
  })

  test('candidates outside pg_catalog and the search path are ignored, even if a driver returns them', async () => {
    const catalog = createFakePostgresCatalog()
    const leaky: FunctionPolicyDeps = {
      ...deps(catalog),
      lookupFunctions: async (names) => ok(catalog.functions.filter((row) => names.includes(row.name))),
    }
    const result = await checkFunctions(analysis('SELECT reset_items()'), leaky)
    assert.ok(!result.ok)
    assert.equal(result.subject, 'reset_items')
  })

  test('a longer search path makes more schemas visible', async () => {
    const catalog = createFakePostgresCatalog(['public', 'canary'])
    await assertDenied('SELECT reset_items()', 'reset_items', undefined, catalog)
    await assertAllowed('SELECT canary.reset_items()', catalog, { allowFunctions: ['canary.reset_items'] })
  })

  test('information_schema helper functions are PostgreSQL\'s own', async () => {
    const catalog = createFakePostgresCatalog(['public', 'information_schema'])
    catalog.functions.push(fn('information_schema', '_pg_expandarray', 'i'))
    await assertAllowed("SELECT information_schema._pg_expandarray(ARRAY['a'])", catalog)
  })
})

describe('current_setting', () => {
  test('only with a constant naming a reviewed setting', async () => {
    await assertAllowed("SELECT current_setting('TimeZone'), pg_catalog.current_setting('server_version_num', true)")
    await assertDenied("SELECT current_setting('data_directory')", 'current_setting', 'ERR_SQL_FORBIDDEN_SETTING')
    await assertDenied("SELECT current_setting('sqlwarden.principal', true)", 'current_setting', 'ERR_SQL_FORBIDDEN_SETTING')
    await assertDenied('SELECT current_setting(name) FROM pg_settings', 'current_setting')
    await assertDenied('SELECT current_setting($1)', 'current_setting')
    await assertDenied('SELECT current_setting()', 'current_setting')
    await assertDenied("SELECT current_setting(setting_name => 'TimeZone')", 'current_setting')
  })

  test('never through attribute notation, where the argument is invisible', async () => {
    await assertDenied("SELECT ('TimeZone'::text).current_setting", 'current_setting')
  })

  test('a user function of that name in its own schema follows the UDF rule instead', async () => {
    const catalog = catalogWith([fn('public', 'current_setting', 'i')])
    await assertAllowed("SELECT public.current_setting('data_directory')", catalog)
    await assertDenied("SELECT current_setting('data_directory')", 'current_setting', 'ERR_SQL_FORBIDDEN_SETTING', catalog)
  })

  test('SHOW settings are checked again', async () => {
    const crafted: QueryAnalysis = { ...analysis('SHOW TimeZone'), shownSettings: ['data_directory'] }
    const result = await checkFunctions(crafted, deps(createFakePostgresCatalog()))
    assert.ok(!result.ok)
    assert.equal(result.code, 'ERR_SQL_FORBIDDEN_SETTING')
    assert.equal(result.subject, 'data_directory')
  })
})

describe('attribute notation', () => {
  test('a name with no function is a column', async () => {
    await assertAllowed('SELECT c.email, c.region, (c.created_at) FROM customers c')
  })

  test('a name that is also a reviewed builtin is fine', async () => {
    await assertAllowed('SELECT c.name, (c).name, c.length FROM customers c')
  })

  test('a name that resolves to a denied or unreviewed function is refused', async () => {
    await assertDenied('SELECT (total).pg_sleep FROM orders', 'pg_sleep')
    await assertDenied('SELECT (1).pg_sleep', 'pg_sleep')
    await assertDenied("SELECT ('canary.seq').nextval", 'nextval')
    await assertDenied('SELECT t.pg_stat_get_activity FROM t', 'pg_stat_get_activity')
    await assertDenied('SELECT c.audit_touch FROM customers c', 'audit_touch')
  })

  test('a denied name that no visible function has is still just a column', async () => {
    const empty = catalogWith()
    empty.functions.length = 0
    await assertAllowed('SELECT t.pg_sleep FROM t', empty)
  })
})

describe('operators', () => {
  test('builtin operators are allowed; pg_catalog-qualified ones need no lookup', async () => {
    await assertAllowed("SELECT a + b, j ->> 'k', x LIKE 'y' FROM t WHERE a BETWEEN 1 AND 2 AND b IN (1, 2)")
    const catalog = createFakePostgresCatalog()
    await assertAllowed('SELECT 1 OPERATOR(pg_catalog.+) 2', catalog)
    assert.deepEqual(catalog.operatorLookups, [])
  })

  test('an operator nobody defined is denied', async () => {
    await assertDenied('SELECT 1 <~~> 2', '<~~>')
    await assertDenied('SELECT 1 OPERATOR(canary.+) 2', '+')
  })

  test('a user operator is as safe as the function behind it', async () => {
    await assertAllowed('SELECT 1 === 2')
    await assertDenied('SELECT !!! 1', '!!!')
    const catalog = catalogWith([], [
      { schema: 'public', name: '@@@', function: fn('pg_catalog', 'current_setting', 's') },
      { schema: 'public', name: '%%%', function: fn('public', 'audit_touch', 'v') },
      { schema: 'public', name: '&&&', function: fn('pg_catalog', 'texteq', 'i') },
      { schema: 'public', name: '^^^', function: fn('pg_catalog', 'pg_lock_status', 's') },
    ])
    await assertDenied("SELECT @@@ 'data_directory'", '@@@', undefined, catalog)
    await assertDenied('SELECT 1 %%% 2', '%%%', undefined, catalog)
    await assertAllowed('SELECT 1 %%% 2', catalog, { allowFunctions: ['public.audit_touch'] })
    await assertAllowed("SELECT 'a' &&& 'b'", catalog)
    await assertDenied('SELECT ^^^ 1', '^^^', undefined, catalog)
  })

  test('a user overload of a builtin operator name is checked too', async () => {
    const catalog = catalogWith([], [{ schema: 'public', name: '=', function: fn('public', 'audit_touch', 'v') }])
    await assertDenied('SELECT * FROM t WHERE a = 1', '=', undefined, catalog)
    await assertDenied('SELECT * FROM t WHERE a IN (SELECT 1)', '=', undefined, catalog)
    await assertAllowed('SELECT * FROM t WHERE a OPERATOR(pg_catalog.=) 1', catalog)
  })
})

describe('lookups: batching, caching, failing closed', () => {
  test('one batched lookup per kind, names deduplicated, pure checks first', async () => {
    const catalog = createFakePostgresCatalog()
    await assertAllowed('SELECT lower(c.name), upper(c.name), lower(email), c.email FROM customers c WHERE c.id = 1 AND c.id > 0', catalog)
    assert.equal(catalog.functionLookups.length, 1)
    assert.deepEqual([...(catalog.functionLookups[0] ?? [])].sort(), ['email', 'id', 'lower', 'name', 'upper'])
    assert.equal(catalog.operatorLookups.length, 1)
    assert.deepEqual([...(catalog.operatorLookups[0] ?? [])].sort(), ['=', '>'])
  })

  test('nothing to look up means no lookup', async () => {
    const catalog = createFakePostgresCatalog()
    await assertAllowed('SELECT 1', catalog)
    assert.deepEqual(catalog.functionLookups, [])
    assert.deepEqual(catalog.operatorLookups, [])
  })

  test('the cache answers repeated queries without a round trip, including negative answers', async () => {
    const catalog = createFakePostgresCatalog()
    const cache = new CatalogCache()
    await assertAllowed('SELECT lower(name) FROM customers WHERE id = 1', catalog, { cache })
    await assertDenied('SELECT missing_fn(1)', 'missing_fn', undefined, catalog, { cache })
    const lookupsBefore = catalog.functionLookups.length + catalog.operatorLookups.length
    await assertAllowed('SELECT lower(name) FROM customers WHERE id = 2', catalog, { cache })
    await assertDenied('SELECT missing_fn(2)', 'missing_fn', undefined, catalog, { cache })
    assert.equal(catalog.functionLookups.length + catalog.operatorLookups.length, lookupsBefore)
  })

  test('only uncached names are asked for', async () => {
    const catalog = createFakePostgresCatalog()
    const cache = new CatalogCache()
    await assertAllowed('SELECT lower(name) FROM customers', catalog, { cache })
    await assertAllowed('SELECT lower(name), upper(name) FROM customers', catalog, { cache })
    assert.deepEqual(catalog.functionLookups.at(-1), ['upper'])
  })

  test('entries expire after the TTL', async () => {
    let now = 1_000
    const catalog = createFakePostgresCatalog()
    const cache = new CatalogCache({ ttlMs: 60_000, now: () => now })
    await assertAllowed('SELECT lower(name) FROM customers', catalog, { cache })
    now += 59_999
    await assertAllowed('SELECT lower(name) FROM customers', catalog, { cache })
    assert.equal(catalog.functionLookups.length, 1)
    now += 1
    await assertAllowed('SELECT lower(name) FROM customers', catalog, { cache })
    assert.equal(catalog.functionLookups.length, 2)
  })

  test('a failed lookup fails the call and is not cached', async () => {
    const catalog = createFakePostgresCatalog()
    const cache = new CatalogCache()
    let failing = true
    const flaky: FunctionPolicyDeps = {
      ...deps(catalog, { cache }),
      lookupFunctions: async (names) =>
        failing ? fail('ERR_SOURCE_UNAVAILABLE', { cause: new Error('connection refused') }) : catalog.lookupFunctions(names),
    }
    const first = await checkFunctions(analysis('SELECT lower(name) FROM customers'), flaky)
    assert.ok(!first.ok)
    assert.equal(first.code, 'ERR_SOURCE_UNAVAILABLE')
    failing = false
    const second = await checkFunctions(analysis('SELECT lower(name) FROM customers'), flaky)
    assert.ok(second.ok)
  })

  test('a failed operator lookup fails the call too', async () => {
    const catalog = createFakePostgresCatalog()
    const result = await checkFunctions(analysis('SELECT 1 + 1'), {
      ...deps(catalog),
      lookupOperators: async () => fail('ERR_SOURCE_UNAVAILABLE'),
    })
    assert.ok(!result.ok)
    assert.equal(result.code, 'ERR_SOURCE_UNAVAILABLE')
  })
})
