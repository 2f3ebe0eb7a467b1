/**
 * Regression: sqlwarden behind a pooler in transaction mode (found 2026-12-05, I7, D30).
 * PgBouncer in transaction mode hands each transaction of a client connection to whichever server
 * connection is free. The driver keeps its statements parsed per session under fixed names
 * (sqlwarden_read_N, D28), so a Bind of a connection's slot ran whatever statement another
 * connection had last parsed under that name on the backend the pooler picked, for another principal's call perhaps: the read below asked
 * for 'alpha' and got 'gamma' (seen before the fix). Destroying a connection that leaked state did
 * not end its backend's session either. The fix (postgres-session-identity.ts): each connection
 * marks its session once with a random value, and the settings row of every call reads the mark
 * back before any row of the statement; a call in a session that is not its connection's own gets
 * no rows, and the source refuses every call from then on.
 *
 * The workload: three statements that differ only in the marker they return, with the same
 * parameter type, so a statement bound on the wrong backend would succeed with another marker.
 * Session pooling, where a connection is one backend, serves the same workload in full. Statement
 * pooling is refused the same way (and PgBouncer drops the connections whose batches it will not
 * pool statement by statement).
 */
import assert from 'node:assert/strict'
import pino from 'pino'
import { after, before, describe, test } from 'node:test'
import type { ReadRequest, SourceDriver } from '../../src/exec/drivers/driver.js'
import { PassThrough } from 'node:stream'
import { runDoctor } from '../../src/cli/doctor-command.js'
import { loadConfig } from '../../src/config/load-config.js'
import { createPostgresDriver } from '../../src/exec/drivers/postgres/postgres-driver.js'
import { probeSessions } from '../../src/exec/drivers/postgres/postgres-session-probe.js'
import type { Logger } from '../../src/log/logger.js'
import type { Result } from '../../src/util/result.js'
import { requirePostgres, uniqueName } from '../helpers/postgres-env.js'
import { startPgBouncer, type PrivatePgBouncer } from '../helpers/private-stores.js'
import { LIMITS } from '../integration/postgres/postgres-fixture.js'

const MARKERS = ['alpha', 'beta', 'gamma'] as const

function markerRead(i: number): { request: ReadRequest; marker: string } {
  const marker = MARKERS[i % MARKERS.length]!
  return { request: { sql: `SELECT $1::text AS n, '${marker}' AS marker`, params: [String(i)], limits: LIMITS }, marker }
}

/** A logger whose error records the test can read (the detection is logged once, at error level). */
function recordingLogger(): { logger: Logger; errors: string[] } {
  const errors: string[] = []
  const stream = {
    write(line: string) {
      const record = JSON.parse(line) as { level: number; msg: string; reason?: string }
      if (record.level >= 50) errors.push(`${record.reason ?? ''}: ${record.msg}`)
    },
  }
  return { logger: pino({ level: 'error' }, stream), errors }
}

interface Tally {
  ok: number
  wrongAnswer: string[]
  refused: number
  otherFailures: string[]
}

/** `rounds` rounds of `parallel` concurrent marker reads; stops after the round with the first refusal. */
async function drive(driver: SourceDriver, rounds: number, parallel: number): Promise<Tally> {
  const tally: Tally = { ok: 0, wrongAnswer: [], refused: 0, otherFailures: [] }
  let i = 0
  for (let r = 0; r < rounds && tally.refused === 0; r++) {
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        const { request, marker } = markerRead(i++)
        const result = await driver.read(request)
        if (result.ok) {
          const row = result.value.rows[0]
          if (row?.[0] === request.params[0] && row?.[1] === marker) tally.ok++
          else tally.wrongAnswer.push(JSON.stringify({ asked: [request.params[0], marker], got: row }))
        } else if (result.code === 'ERR_SOURCE_MISCONFIGURED' && result.subject === 'pooled_session_shared') tally.refused++
        else tally.otherFailures.push(`${result.code} (${result.subject ?? ''})`)
      }),
    )
  }
  return tally
}

function refusedAsShared(result: Result<unknown>): boolean {
  return !result.ok && result.code === 'ERR_SOURCE_MISCONFIGURED' && result.subject === 'pooled_session_shared'
}

interface BehindPgBouncer {
  readonly url: string
  readonly driver: SourceDriver
  readonly errors: string[]
  close(): Promise<void>
}

/** sqlwarden's driver, four connections, through a private PgBouncer with `serverPool` server connections. */
async function behindPgBouncer(mode: 'session' | 'transaction' | 'statement', serverPool: number): Promise<BehindPgBouncer> {
  const bouncer: PrivatePgBouncer = await startPgBouncer(await requirePostgres(), mode, serverPool)
  const { logger, errors } = recordingLogger()
  const driver = createPostgresDriver({
    connectionString: bouncer.url,
    poolSize: 4,
    searchPath: ['public'],
    lockTimeoutMs: 1_000,
    logger,
    cancel: 'protocol',
    applicationName: uniqueName('swpooler'),
  })
  return {
    url: bouncer.url,
    driver,
    errors,
    async close() {
      await driver.close()
      await bouncer.stop()
    },
  }
}

/** `sqlwarden doctor --db url`: its exit status and what it printed. */
async function doctor(url: string): Promise<{ status: number; text: string }> {
  const loaded = loadConfig({ db: url }, {}, () => {
    throw new Error('no config file')
  })
  if (!loaded.ok) throw new Error(loaded.message)
  const out = new PassThrough()
  let text = ''
  out.on('data', (chunk: Buffer) => (text += chunk.toString()))
  const status = await runDoctor(loaded.config, pino({ level: 'silent' }), out)
  return { status, text }
}

/**
 * What a pooler that shares sessions must come to, whatever its mode: the workload never gets
 * another statement's rows, the shared session is proved within it and logged once, and any other
 * failure before the proof is one of `otherFailure`.
 */
async function expectSharedSessionProved(it: BehindPgBouncer, otherFailure: RegExp): Promise<void> {
  const tally = await drive(it.driver, 200, 8)
  assert.deepEqual(tally.wrongAnswer, [], 'a read answered with another statement’s rows')
  assert.ok(tally.refused > 0, `no shared session was proved in 200 rounds (ok ${tally.ok}, other failures ${tally.otherFailures.join(', ')})`)
  for (const failure of tally.otherFailures) assert.match(failure, otherFailure)
  assert.equal(it.errors.length, 1, `the proof is logged once, at error level: ${it.errors.join(' | ')}`)
  assert.match(it.errors[0]!, /^session_mark_mismatch: .*transaction or statement mode/)
}

/** doctor, before any call, through a pooler that shares sessions: the probe proves it and doctor exits 1. */
async function expectDoctorRefuses(url: string): Promise<void> {
  assert.deepEqual(await probeSessions({ connectionString: url }), { ok: true, value: { proxied: true, shared: true } })
  const { status, text } = await doctor(url)
  assert.equal(status, 1)
  assert.match(text, /connection: through a pooler that shares sessions/)
  assert.match(text, /verdict: REFUSED: every call would be refused/)
}

describe('PgBouncer in front of PostgreSQL', () => {
  test('doctor, directly: no pooler, nothing shared', async () => {
    assert.deepEqual(await probeSessions({ connectionString: await requirePostgres() }), { ok: true, value: { proxied: false, shared: false } })
  })

  describe('transaction pooling', () => {
    let it: BehindPgBouncer
    // Four client connections over two server connections: they must share sessions.
    before(async () => (it = await behindPgBouncer('transaction', 2)))
    after(async () => it?.close())

    test('a session shared between connections is proved, that call gets no rows, and no answer ever comes from another statement', async () => {
      // Before the proof, a connection may also fail on a statement name the backend it got lacks:
      // failures, never wrong answers.
      await expectSharedSessionProved(it, /^ERR_(EXEC_QUERY_FAILED|SOURCE_UNAVAILABLE|EXEC_INVALID_INPUT)/)
    })

    test('from then on every call to the source is refused, reads, catalog and writes alike', async () => {
      const { driver } = it
      for (let i = 0; i < 5; i++) assert.ok(refusedAsShared(await driver.read(markerRead(i).request)))
      assert.ok(refusedAsShared(await driver.listTables(null, LIMITS)))
      assert.ok(refusedAsShared(await driver.explain(markerRead(0).request)))
      assert.ok(refusedAsShared(await driver.write({ sql: 'INSERT INTO nowhere VALUES ($1)', params: [1], statementClass: 'insert', limits: LIMITS })))
      assert.equal(it.errors.length, 1, 'logged once, not once per refused call')
    })

    test('doctor finds the shared sessions before any call, and fails', () => expectDoctorRefuses(it.url))
  })

  describe('statement pooling', () => {
    let it: BehindPgBouncer
    before(async () => (it = await behindPgBouncer('statement', 2)))
    after(async () => it?.close())

    test('no read is ever answered from another session: the pooler drops the connections it refuses, and the shared session is proved', async () => {
      // PgBouncer closes a client whose batch it will not pool by statement (FATAL 08P01): the call
      // fails as the source being unavailable, never with rows.
      await expectSharedSessionProved(it, /^ERR_SOURCE_UNAVAILABLE/)
      assert.ok(refusedAsShared(await it.driver.read(markerRead(0).request)))
    })

    test('doctor finds the shared sessions, and fails', () => expectDoctorRefuses(it.url))
  })

  describe('session pooling', () => {
    let it: BehindPgBouncer
    before(async () => (it = await behindPgBouncer('session', 4)))
    after(async () => it?.close())

    test('one connection is one session: the same workload is served in full, with no refusal', async () => {
      const tally = await drive(it.driver, 60, 8)
      assert.deepEqual(tally, { ok: 480, wrongAnswer: [], refused: 0, otherFailures: [] })
      assert.deepEqual(it.errors, [])
    })

    test('doctor sees a pooler that keeps sessions apart: supported', async () => {
      assert.deepEqual(await probeSessions({ connectionString: it.url }), { ok: true, value: { proxied: true, shared: false } })
      const { text } = await doctor(it.url)
      assert.match(text, /connection: through a pooler or proxy; each connection kept a session of its own/)
    })
  })
})
