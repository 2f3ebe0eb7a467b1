/**
 * TLS options: libpq sslmode names map to pg's `ssl` option, an `sslmode` in the URL cannot
 * override the configured mode, and `prefer`/`require` never fall back to plaintext.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { pgSslConfig, withoutSslParams } from '../../../src/exec/drivers/postgres/postgres-ssl.js'
import { requirePostgres, withAdmin } from '../../helpers/postgres-env.js'
import { expectFail, expectOk, openDriver, request } from './postgres-fixture.js'

describe('postgres driver: TLS options', () => {
  const read = (path: string) => `PEM from ${path}`

  test('modes map to pg ssl options', () => {
    assert.equal(pgSslConfig({ mode: 'disable' }, read), false)
    assert.deepEqual(pgSslConfig({ mode: 'require' }, read), { rejectUnauthorized: false })
    assert.deepEqual(pgSslConfig({ mode: 'prefer' }, read), { rejectUnauthorized: false })
    assert.deepEqual(pgSslConfig({ mode: 'verify-full', ca: '/ca.pem' }, read), { rejectUnauthorized: true, ca: 'PEM from /ca.pem' })
    assert.deepEqual(pgSslConfig({ mode: 'verify-full' }, read), { rejectUnauthorized: true })
    const verifyCa = pgSslConfig({ mode: 'verify-ca', ca: '/ca.pem' }, read)
    assert.ok(verifyCa !== false && verifyCa.rejectUnauthorized === true && verifyCa.ca === 'PEM from /ca.pem')
    assert.equal(verifyCa.checkServerIdentity?.('db.example', {} as never), undefined, 'verify-ca skips the host name check')
    const requireWithCa = pgSslConfig({ mode: 'require', ca: '/ca.pem' }, read)
    assert.ok(requireWithCa !== false && requireWithCa.rejectUnauthorized === true, 'require with a CA verifies like libpq')
  })

  test('ssl parameters in the URL are removed when ssl is configured', () => {
    assert.equal(withoutSslParams('postgres://u:p%40ss@h:5432/db?sslmode=disable&application_name=x'), 'postgres://u:p%40ss@h:5432/db?application_name=x')
    assert.equal(withoutSslParams('postgres://h/db'), 'postgres://h/db')
  })

  test('require/prefer never fall back to plaintext; disable connects without TLS', async () => {
    const url = await requirePostgres()
    const serverSsl = await withAdmin(url, async (c) => (await c.query<{ ssl: string }>('SHOW ssl')).rows[0]?.ssl)
    for (const mode of ['require', 'prefer'] as const) {
      const fx = await openDriver({ connectionString: `${url}${url.includes('?') ? '&' : '?'}sslmode=disable`, ssl: { mode } })
      try {
        const r = await fx.driver.read(request('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'))
        if (serverSsl === 'on') assert.deepEqual(expectOk(r).rows, [[true]])
        else expectFail(r, 'ERR_SOURCE_UNAVAILABLE')
      } finally {
        await fx.driver.close()
      }
    }
    const plain = await openDriver({ ssl: { mode: 'disable' } })
    try {
      assert.deepEqual(expectOk(await plain.driver.read(request('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'))).rows, [[false]])
    } finally {
      await plain.driver.close()
    }
  })
})
