/**
 * The embedded driver's watchdog, with a stand-in inner driver over a plain pg client, so it is
 * tested apart from the real Postgres driver (embedded-postgres-driver.test.ts covers the pair).
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { ReadRequest, SourceDriver } from '../../../src/exec/drivers/driver.js'
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../../../src/exec/embedded/embedded-database.js'
import { createEmbeddedDriver } from '../../../src/exec/embedded/embedded-driver.js'
import type { Result } from '../../../src/util/result.js'
import { captureLogger, LIMITS, makeTempDir, messages, plainPgDriverFactory } from './embedded-fixtures.js'

function request(sql: string, statementTimeoutMs: number = LIMITS.statementTimeoutMs, signal?: AbortSignal): ReadRequest {
  return { sql, params: [], limits: { ...LIMITS, statementTimeoutMs }, ...(signal ? { signal } : {}) }
}

function firstCell<T>(result: Result<{ rows: readonly (readonly unknown[])[] }>): T {
  assert.ok(result.ok, `expected ok, got ${result.ok ? '' : result.code}`)
  return result.value.rows[0]?.[0] as T
}

const ORDERS = 'SELECT count(*)::int FROM orders'

describe('embedded driver watchdog', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>
  let db: EmbeddedDatabase
  let driver: SourceDriver
  const log = captureLogger()
  const inner = plainPgDriverFactory()

  before(async () => {
    tmp = await makeTempDir('embedded-driver')
    db = await startEmbeddedDatabase({ dataDir: path.join(tmp.dir, 'demo'), logger: log.logger })
    driver = createEmbeddedDriver({
      db,
      createPostgresDriver: inner.factory,
      searchPath: ['public'],
      lockTimeoutMs: 1_000,
      logger: log.logger,
    })
  })

  after(async () => {
    await driver.close()
    await tmp.cleanup()
  })

  it('creates the inner driver with one connection, no protocol cancel, and the worker URL', async () => {
    assert.equal(firstCell<number>(await driver.read(request(ORDERS))), 4000)
    const options = inner.created.at(-1)
    assert.ok(options)
    assert.equal(options.poolSize, 1)
    assert.equal(options.cancel, 'none')
    assert.deepEqual(options.searchPath, ['public'])
    assert.equal(options.connectionString, db.connectionString())
  })

  it('a hung query (pg_sleep) returns ERR_EXEC_TIMEOUT within the limit + 1 s, and the next call works', async () => {
    const generation = db.generation
    const started = Date.now()
    const result = await driver.read(request('SELECT pg_sleep(10)', 1_000))
    const elapsed = Date.now() - started
    assert.equal(result.ok, false)
    assert.equal(!result.ok && result.code, 'ERR_EXEC_TIMEOUT')
    assert.deepEqual(!result.ok && result.data, { limitMs: 1_000 })
    assert.ok(elapsed >= 1_000 && elapsed < 2_000, `answered after ${elapsed} ms`)
    assert.ok(messages(log.records).includes('embedded query exceeded its time limit; terminating the worker'))

    assert.equal(firstCell<number>(await driver.read(request(ORDERS))), 4000, 'data intact on the new worker')
    assert.equal(db.generation, generation + 1)
    assert.equal(inner.created.at(-1)?.connectionString, db.connectionString(), 'inner driver recreated')
  })

  it('a CPU-bound query (cross join) is stopped the same way', async () => {
    const started = Date.now()
    const result = await driver.read(
      request('SELECT count(*) FROM generate_series(1, 100000) a, generate_series(1, 100000) b', 800),
    )
    assert.equal(!result.ok && result.code, 'ERR_EXEC_TIMEOUT')
    assert.ok(Date.now() - started < 1_800)
    assert.equal(firstCell<number>(await driver.read(request('SELECT 1'))), 1)
  })

  it('calls queued behind a hung call run on the new worker, or give up after their own limit', async () => {
    const hung = driver.read(request('SELECT pg_sleep(10)', 1_000))
    await new Promise((resolve) => setTimeout(resolve, 50))
    const patient = driver.read(request(ORDERS, 5_000))
    const impatient = driver.read(request(ORDERS, 300))
    const started = Date.now()
    const [h, p, i] = await Promise.all([hung, patient, impatient])
    assert.equal(!h.ok && h.code, 'ERR_EXEC_TIMEOUT')
    assert.equal(!i.ok && i.code, 'ERR_SOURCE_UNAVAILABLE', 'the impatient call was not left waiting')
    assert.equal(firstCell<number>(p), 4000, 'the patient call ran once, on the new worker')
    // The hung call's 1 s limit, a worker restart (2-3 s on the loaded 2-core CI machine: CI on
    // 2026-12-05 took just over 4 s here once) and the call itself: well before the hung
    // statement's 10 s would have ended, which is what a patient call left waiting would take.
    const ms = Date.now() - started
    assert.ok(ms < 8_000, `the patient call took ${ms} ms`)
  })

  it('an abort while running stops the query (worker restart) and returns ERR_EXEC_CANCELLED', async () => {
    const controller = new AbortController()
    const generation = db.generation
    const started = Date.now()
    setTimeout(() => controller.abort(), 200)
    const result = await driver.read(request('SELECT pg_sleep(10)', 5_000, controller.signal))
    assert.equal(!result.ok && result.code, 'ERR_EXEC_CANCELLED')
    assert.ok(Date.now() - started < 1_000)
    assert.equal(firstCell<number>(await driver.read(request(ORDERS))), 4000)
    assert.equal(db.generation, generation + 1)
  })

  it('an abort while queued leaves without touching the database', async () => {
    const hung = driver.read(request('SELECT pg_sleep(2)', 5_000))
    await new Promise((resolve) => setTimeout(resolve, 50))
    const controller = new AbortController()
    const queued = driver.read(request(ORDERS, 5_000, controller.signal))
    controller.abort()
    const result = await queued
    assert.equal(!result.ok && result.code, 'ERR_EXEC_CANCELLED')
    assert.equal(firstCell<string>(await hung), '')
    const aborted = new AbortController()
    aborted.abort()
    const early = await driver.read(request(ORDERS, 5_000, aborted.signal))
    assert.equal(!early.ok && early.code, 'ERR_EXEC_CANCELLED')
  })

  it('an inner driver that throws is an internal error, and the worker is restarted', async () => {
    const { logger } = captureLogger()
    const throwing = createEmbeddedDriver({
      db,
      createPostgresDriver: (options) => {
        const base = inner.factory(options) as SourceDriver
        return { ...base, read: () => Promise.reject(new Error('boom')) }
      },
      searchPath: ['public'],
      lockTimeoutMs: 1_000,
      logger,
    })
    const generation = db.generation
    const result = await throwing.read(request(ORDERS))
    assert.equal(!result.ok && result.code, 'ERR_INTERNAL')
    // The restart runs after the answer; the next call through the driver waits for it.
    assert.equal(firstCell<number>(await driver.read(request(ORDERS))), 4000)
    assert.ok(db.generation >= generation + 1)
  })

  it('after close every call is ERR_SOURCE_UNAVAILABLE and the worker is gone', async () => {
    const { logger } = captureLogger()
    const own = await startEmbeddedDatabase({ dataDir: path.join(tmp.dir, 'demo'), logger })
    const closing = createEmbeddedDriver({ db: own, createPostgresDriver: inner.factory, searchPath: ['public'], lockTimeoutMs: 1_000, logger })
    assert.equal(firstCell<number>(await closing.read(request('SELECT 1'))), 1)
    await closing.close()
    const result = await closing.read(request('SELECT 1'))
    assert.equal(!result.ok && result.code, 'ERR_SOURCE_UNAVAILABLE')
    await assert.rejects(own.ensureRunning(), /closed/)
  })
})
