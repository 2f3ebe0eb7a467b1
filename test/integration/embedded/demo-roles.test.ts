/**
 * The demo dataset's mapped roles on the real embedded database, through the real Postgres driver:
 * demo_support sees only its claim's region of customers (row-level security) and nothing of
 * orders (grants); demo_analyst and the reader role see everything, as before RLS. And the start-up
 * role check on the embedded source: a mapped role must exist, be neither superuser nor BYPASSRLS,
 * and be granted to the reader (the superuser session user could otherwise become any role).
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { loadConfig } from '../../../src/config/load-config.js'
import type { CallLimits, ReadRequest, SourceDriver } from '../../../src/exec/drivers/driver.js'
import { createPostgresDriver } from '../../../src/exec/drivers/postgres/postgres-driver.js'
import {
  DEMO_ANALYST_ROLE,
  DEMO_COUNTS,
  DEMO_READER_ROLE,
  DEMO_SUPPORT_ROLE,
} from '../../../src/exec/embedded/demo-dataset.js'
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../../../src/exec/embedded/embedded-database.js'
import { createEmbeddedDriver } from '../../../src/exec/embedded/embedded-driver.js'
import { openSources } from '../../../src/exec/open-sources.js'
import { loadPolicy } from '../../../src/policy/load-policy.js'
import { captureLogger, LIMITS, makeTempDir } from './embedded-fixtures.js'

function as(dbRole: string | null, claims?: Record<string, string>): CallLimits {
  return { ...LIMITS, identity: { dbRole, principal: 'tester', ...(claims === undefined ? {} : { claims }) } }
}

function request(sql: string, limits: CallLimits): ReadRequest {
  return { sql, params: [], limits }
}

describe('demo roles and row-level security on the embedded database', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>
  let dataDir: string
  let db: EmbeddedDatabase
  let driver: SourceDriver

  before(async () => {
    tmp = await makeTempDir('demo-roles')
    dataDir = path.join(tmp.dir, 'demo')
    const { logger } = captureLogger()
    db = await startEmbeddedDatabase({ dataDir, logger })
    driver = createEmbeddedDriver({ db, createPostgresDriver, searchPath: ['public'], lockTimeoutMs: 1_000, logger })
  })

  after(async () => {
    await driver?.close()
    await tmp?.cleanup()
  })

  async function rows(sql: string, limits: CallLimits): Promise<unknown[][]> {
    const r = await driver.read(request(sql, limits))
    assert.ok(r.ok, !r.ok ? r.code : '')
    return r.value.rows as unknown[][]
  }

  it('the mapped roles are NOLOGIN, NOSUPERUSER, NOBYPASSRLS, and granted to the reader without INHERIT', async () => {
    const found = await rows(
      `SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolbypassrls,
              pg_has_role('${DEMO_READER_ROLE}', r.oid, 'MEMBER'), pg_has_role('${DEMO_READER_ROLE}', r.oid, 'USAGE')
         FROM pg_roles r WHERE r.rolname IN ('${DEMO_ANALYST_ROLE}', '${DEMO_SUPPORT_ROLE}') ORDER BY 1`,
      LIMITS,
    )
    assert.deepEqual(found, [
      [DEMO_ANALYST_ROLE, false, false, false, true, false],
      [DEMO_SUPPORT_ROLE, false, false, false, true, false],
    ])
  })

  it('demo_support sees only its region of customers: same SQL, different rows', async () => {
    const sql = 'SELECT count(*)::int, count(DISTINCT region)::int, min(region), current_user FROM customers'
    const [eu] = await rows(sql, as(DEMO_SUPPORT_ROLE, { region: 'EU' }))
    const [na] = await rows(sql, as(DEMO_SUPPORT_ROLE, { region: 'NA' }))
    const [euTotal] = await rows("SELECT count(*)::int FROM customers WHERE region = 'EU'", as(DEMO_ANALYST_ROLE))
    assert.deepEqual(eu, [euTotal?.[0], 1, 'EU', DEMO_SUPPORT_ROLE])
    assert.equal(na?.[2], 'NA')
    assert.ok((eu?.[0] as number) > 0 && (eu?.[0] as number) < DEMO_COUNTS.customers)
    assert.equal((eu?.[0] as number) + (na?.[0] as number) < DEMO_COUNTS.customers, true)
  })

  it('demo_support without a region claim sees no customers at all', async () => {
    assert.deepEqual(await rows('SELECT count(*)::int FROM customers', as(DEMO_SUPPORT_ROLE)), [[0]])
  })

  it('demo_support cannot read orders or the order_summary view (grants), but can read products', async () => {
    for (const sql of ['SELECT * FROM orders', 'SELECT * FROM order_summary']) {
      const r = await driver.read(request(sql, as(DEMO_SUPPORT_ROLE, { region: 'EU' })))
      assert.equal(!r.ok && r.code, 'ERR_EXEC_PERMISSION_DENIED', sql)
    }
    assert.deepEqual(await rows('SELECT count(*)::int FROM products', as(DEMO_SUPPORT_ROLE)), [[DEMO_COUNTS.products]])
  })

  it('demo_analyst and the reader role (no mapping) see every row, as before row-level security', async () => {
    const sql =
      'SELECT (SELECT count(*)::int FROM customers), (SELECT count(*)::int FROM orders), ' +
      '(SELECT count(*)::int FROM order_summary), current_user'
    const all = [DEMO_COUNTS.customers, DEMO_COUNTS.orders, DEMO_COUNTS.customers]
    assert.deepEqual(await rows(sql, as(DEMO_ANALYST_ROLE)), [[...all, DEMO_ANALYST_ROLE]])
    assert.deepEqual(await rows(sql, as(null)), [[...all, DEMO_READER_ROLE]])
    assert.deepEqual(await rows(sql, LIMITS), [[...all, DEMO_READER_ROLE]])
  })

  it('the mapped role and claim are transaction-local: the next call runs as the reader again', async () => {
    await rows('SELECT 1', as(DEMO_SUPPORT_ROLE, { region: 'EU' }))
    assert.deepEqual(
      await rows('SELECT current_user, (SELECT count(*)::int FROM customers)', LIMITS),
      [[DEMO_READER_ROLE, DEMO_COUNTS.customers]],
    )
  })

  describe('start-up role check on the embedded source', () => {
    async function open(dbRole: string): Promise<{ ok: boolean; message: string; logs: string }> {
      const read = (file: string) => {
        assert.equal(file, 'c.yaml')
        return [
          'sources:',
          `  demo: { kind: embedded, dataDir: ${JSON.stringify(dataDir)} }`,
          'policy:',
          '  version: 1',
          '  roles:',
          `    someone: { sources: { demo: { dbRole: ${dbRole} } } }`,
          '',
        ].join('\n')
      }
      const config = loadConfig({ configFile: 'c.yaml' }, {}, read)
      assert.ok(config.ok, !config.ok ? config.message : '')
      const policy = loadPolicy(config.config.policy, Object.keys(config.config.sources))
      assert.ok(policy.ok, !policy.ok ? policy.message : '')
      const { logger, records } = captureLogger()
      const opened = await openSources(config.config, logger, policy.policy)
      const logs = JSON.stringify(records)
      if (!opened.ok) return { ok: false, message: opened.message, logs }
      await opened.registry.close()
      return { ok: true, message: '', logs }
    }

    it('accepts demo_analyst and demo_support', async () => {
      for (const role of [DEMO_ANALYST_ROLE, DEMO_SUPPORT_ROLE]) {
        const r = await open(role)
        assert.ok(r.ok, `${role}: ${r.message}`)
      }
    })

    it('refuses a superuser, a role not granted to the reader, and a missing role', async () => {
      const cases: [string, RegExp][] = [
        ['postgres', /SUPERUSER or BYPASSRLS/],
        ['pg_read_all_data', /not a member of/],
        ['pg_execute_server_program', /not a member of/],
        ['no_such_role', /does not exist/],
      ]
      for (const [role, why] of cases) {
        const r = await open(role)
        assert.equal(r.ok, false, role)
        assert.match(r.message, /^ERR_CONFIG_UNSAFE_ROLE: sources\.demo:/, role)
        assert.match(r.logs, why, role)
      }
    })
  })
})
