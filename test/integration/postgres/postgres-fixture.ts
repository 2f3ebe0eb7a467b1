/**
 * Shared set-up for the PostgreSQL driver tests: a driver on the test database with a unique
 * application_name (so pg_stat_activity can be filtered to this driver's own connections).
 */
import assert from 'node:assert/strict'
import type { CallLimits, ReadRequest, SourceDriver } from '../../../src/exec/drivers/driver.js'
import { createPostgresDriver, type PostgresDriverOptions } from '../../../src/exec/drivers/postgres/postgres-driver.js'
import { silentLogger } from '../../../src/log/logger.js'
import type { Fail, Result } from '../../../src/util/result.js'
import { requirePostgres, uniqueName, withAdmin } from '../../helpers/postgres-env.js'

export const LIMITS: CallLimits = { maxRows: 500, maxBytes: 512 * 1024, statementTimeoutMs: 5_000 }

export interface DriverFixture {
  readonly driver: SourceDriver
  readonly url: string
  readonly appName: string
}

export async function openDriver(overrides: Partial<PostgresDriverOptions> = {}): Promise<DriverFixture> {
  const url = await requirePostgres()
  const appName = uniqueName('swtest')
  const driver = createPostgresDriver({
    connectionString: url,
    poolSize: 4,
    searchPath: ['public'],
    lockTimeoutMs: 1_000,
    logger: silentLogger(),
    cancel: 'protocol',
    applicationName: appName,
    ...overrides,
  })
  return { driver, url, appName }
}

export function request(sql: string, params: ReadRequest['params'] = [], limits: Partial<CallLimits> = {}, signal?: AbortSignal): ReadRequest {
  return { sql, params, limits: { ...LIMITS, ...limits }, ...(signal ? { signal } : {}) }
}

export function expectOk<T>(result: Result<T>): T {
  if (!result.ok) assert.fail(`expected ok, got ${result.code} (${result.subject ?? ''})`)
  return result.value
}

export function expectFail(result: Result<unknown>, code: Fail['code']): Fail {
  assert.equal(result.ok, false, 'expected a failure')
  const failure = result as Fail
  assert.equal(failure.code, code, `subject: ${failure.subject ?? ''}`)
  return failure
}

/** Backend pids of this driver's connections, by state. */
export async function driverBackends(url: string, appName: string): Promise<{ pid: number; state: string | null; query: string }[]> {
  return withAdmin(url, async (c) => {
    const r = await c.query<{ pid: number; state: string | null; query: string }>(
      'SELECT pid, state, query FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
      [appName],
    )
    return r.rows
  })
}

/** Polls until `check` holds or `ms` pass; returns whether it held. */
export async function eventually(check: () => Promise<boolean>, ms: number, stepMs = 25): Promise<boolean> {
  const end = Date.now() + ms
  for (;;) {
    if (await check()) return true
    if (Date.now() >= end) return false
    await new Promise((r) => setTimeout(r, stepMs))
  }
}

/** Waits for background cleanup (ROLLBACK after the result) to finish. */
export function settle(ms = 50): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
