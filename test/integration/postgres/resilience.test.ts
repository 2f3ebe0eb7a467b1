/**
 * Resilience and I5. A killed backend is one failed call, a database that is down fails fast and
 * recovers without a restart, and no error or log line carries a DSN, password or driver message.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { pino } from 'pino'
import { requirePostgres, withAdmin } from '../../helpers/postgres-env.js'
import { driverBackends, eventually, expectFail, expectOk, openDriver, request } from './postgres-fixture.js'
import { closedPort, silentServer, startTcpProxy } from './tcp-proxy.js'

const PASSWORD = 'Pa55-w0rd-never-shown'

/** A logger that keeps every line, to check what reaches stderr in production. */
function capturingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString())
      done()
    },
  })
  return { logger: pino({ level: 'trace' }, stream), lines }
}

/** The part of a Fail that may leave the process: everything but `cause`. */
function visible(result: unknown): string {
  const { cause: _cause, ...rest } = result as Record<string, unknown>
  return JSON.stringify(rest)
}

describe('postgres driver: resilience and error hygiene', () => {
  let url: string
  let terminated = false

  before(async () => {
    url = await requirePostgres()
    process.on('uncaughtException', () => (terminated = true))
  })

  after(() => {
    assert.equal(terminated, false, 'an uncaught exception escaped the driver')
  })

  test('a backend killed mid-query is one failed call; the next call works', async () => {
    const fx = await openDriver({ poolSize: 1 })
    try {
      const pending = fx.driver.read(request('SELECT pg_sleep(5) /* sw-kill */', [], { statementTimeoutMs: 10_000 }))
      let pid: number | undefined
      assert.ok(
        await eventually(async () => {
          pid = (await driverBackends(fx.url, fx.appName)).find((b) => b.query.includes('sw-kill') && b.state === 'active')?.pid
          return pid !== undefined
        }, 2_000),
      )
      await withAdmin(fx.url, (c) => c.query('SELECT pg_terminate_backend($1)', [pid]))
      const failure = expectFail(await pending, 'ERR_SOURCE_UNAVAILABLE')
      assert.equal(failure.subject, 'admin_shutdown')
      assert.deepEqual(expectOk(await fx.driver.read(request('SELECT 1'))).rows, [[1]])
    } finally {
      await fx.driver.close()
    }
  })

  test('a backend killed while idle in the pool does not crash the process; the next call works', async () => {
    const fx = await openDriver({ poolSize: 1 })
    try {
      expectOk(await fx.driver.read(request('SELECT 1')))
      await new Promise((r) => setTimeout(r, 50))
      const [idle] = await driverBackends(fx.url, fx.appName)
      assert.ok(idle)
      await withAdmin(fx.url, (c) => c.query('SELECT pg_terminate_backend($1)', [idle.pid]))
      assert.ok(await eventually(async () => (await driverBackends(fx.url, fx.appName)).length === 0, 2_000))
      await new Promise((r) => setTimeout(r, 50))
      assert.deepEqual(expectOk(await fx.driver.read(request('SELECT 2'))).rows, [[2]])
    } finally {
      await fx.driver.close()
    }
  })

  test('a closed port fails fast with ERR_SOURCE_UNAVAILABLE and leaks nothing', async () => {
    const port = await closedPort()
    const { logger, lines } = capturingLogger()
    const fx = await openDriver({ connectionString: `postgres://sw_user:${PASSWORD}@127.0.0.1:${port}/secretdb`, logger })
    try {
      const started = Date.now()
      const r = await fx.driver.read(request('SELECT 1'))
      assert.ok(Date.now() - started < 4_000)
      const failure = expectFail(r, 'ERR_SOURCE_UNAVAILABLE')
      for (const secret of [PASSWORD, 'sw_user', 'secretdb', `127.0.0.1:${port}`, `${port}`]) {
        assert.ok(!visible(failure).includes(secret), `Fail shows ${secret}`)
      }
      for (const secret of [PASSWORD, 'sw_user', 'secretdb', `127.0.0.1:${port}`, 'postgres://']) {
        assert.ok(!lines.join('').includes(secret), `log shows ${secret}`)
      }
      assert.ok(!visible(failure).includes('ECONNREFUSED'), 'Fail shows the errno')
      assert.ok(lines.length > 0, 'the failure was logged')
    } finally {
      await fx.driver.close()
    }
  })

  test('a server that never answers fails within the 3 s connect timeout', async () => {
    const server = await silentServer()
    const fx = await openDriver({ connectionString: `postgres://postgres@127.0.0.1:${server.port}/test` })
    try {
      const started = Date.now()
      expectFail(await fx.driver.read(request('SELECT 1', [], { statementTimeoutMs: 30_000 })), 'ERR_SOURCE_UNAVAILABLE')
      const elapsed = Date.now() - started
      assert.ok(elapsed >= 2_500 && elapsed < 4_000, `took ${elapsed} ms`)
    } finally {
      await fx.driver.close()
      await server.close()
    }
  })

  test('database down, then back: calls fail fast, then work again without a restart', async () => {
    const target = new URL(url)
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432))
    target.host = `127.0.0.1:${proxy.port}`
    const fx = await openDriver({ connectionString: target.toString(), poolSize: 2 })
    try {
      expectOk(await fx.driver.read(request('SELECT 1')))
      await proxy.shut()
      for (let i = 0; i < 3; i++) {
        const started = Date.now()
        expectFail(await fx.driver.read(request('SELECT 1')), 'ERR_SOURCE_UNAVAILABLE')
        assert.ok(Date.now() - started < 4_000)
      }
      await proxy.reopen()
      assert.deepEqual(expectOk(await fx.driver.read(request('SELECT 7'))).rows, [[7]])
    } finally {
      await fx.driver.close()
      await proxy.shut().catch(() => undefined)
    }
  })

  for (const fault of ['drop', 'corrupt'] as const) {
    const how = fault === 'drop' ? 'the backend dies at the mark' : 'the server refuses the mark'
    test(`a connection whose session mark cannot be set (${how}) is never used: the call fails fast, its SQL never leaves, and the source serves again once the fault is gone (D30)`, async () => {
      const target = new URL(url)
      const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432))
      target.host = `127.0.0.1:${proxy.port}`
      const { logger, lines } = capturingLogger()
      const fx = await openDriver({ connectionString: target.toString(), poolSize: 2, logger })
      try {
        // The mark is the first thing a new connection sends after its start-up.
        proxy.faultWhenClientSends('SET sqlwarden.session', fault)
        for (let i = 0; i < 3; i++) {
          const started = Date.now()
          const r = await fx.driver.read(request(`SELECT ${4240 + i} AS never_sent`))
          // Either way the connection's session is unknown: the source is unavailable for this call.
          expectFail(r, 'ERR_SOURCE_UNAVAILABLE')
          assert.ok(Date.now() - started < 4_000, 'the call failed fast')
        }
        assert.ok(!proxy.forwardedDuringFault.some((chunk) => chunk.includes('never_sent')), 'a statement went out on an unmarked connection')
        assert.ok(lines.some((line) => line.includes('postgres session mark failed')), 'the failed mark is logged')
        // A mark that could not be set proves nothing about sharing: the source is not refused.
        assert.ok(!lines.some((line) => line.includes('not one session of its own')), 'the source was refused as shared')
        proxy.faultWhenClientSends(null)
        assert.deepEqual(expectOk(await fx.driver.read(request('SELECT 7'))).rows, [[7]])
      } finally {
        await fx.driver.close()
        await proxy.shut().catch(() => undefined)
      }
    })
  }

  test('server errors cross as code and condition name only: no message, detail, hint or values', async () => {
    const { logger, lines } = capturingLogger()
    const fx = await openDriver({ logger })
    try {
      const cases: [string, string, string[]][] = [
        ['SELECT 1/0', 'ERR_EXEC_INVALID_INPUT', ['division by zero']],
        ["SELECT 'secret-value-xyz'::int", 'ERR_EXEC_INVALID_INPUT', ['secret-value-xyz', 'invalid input syntax']],
        ['SELECT * FROM secret_table_xyz', 'ERR_EXEC_UNDEFINED_OBJECT', ['secret_table_xyz', 'does not exist']],
        ['SELECT secret_column_xyz FROM pg_class', 'ERR_EXEC_UNDEFINED_OBJECT', ['secret_column_xyz']],
        ["SELECT jsonb_path_query('{}', 'strict $.secret_key_xyz')", 'ERR_EXEC_INVALID_INPUT', ['secret_key_xyz']],
        ['SELEC broken_xyz', 'ERR_EXEC_QUERY_FAILED', ['broken_xyz', 'syntax error at']],
        ['SELECT $1::int', 'ERR_EXEC_INVALID_INPUT', ['bind message', 'supplies 0']],
      ]
      for (const [sql, code, words] of cases) {
        const failure = expectFail(await fx.driver.read(request(sql)), code as never)
        assert.match(failure.subject ?? '', /^[a-z_]+$/)
        for (const word of [...words, 'LINE', 'HINT', url]) {
          assert.ok(!visible(failure).includes(word), `${sql}: Fail shows ${word}`)
          assert.ok(!lines.join('').includes(word), `${sql}: log shows ${word}`)
        }
        assert.ok(!visible(failure).includes('ERROR'), `${sql}: Fail shows the severity`)
      }
    } finally {
      await fx.driver.close()
    }
  })
})
