/**
 * Isolation under concurrency, on the real PostgreSQL and on the embedded default: calls that try to
 * leave state behind (session settings, advisory locks, prepared statements, cursors, LISTEN, a
 * role) run interleaved with probe calls of other principals on a small pool, sent straight to the
 * driver as if the parser gate had let them through. Every probe must see its own identity and
 * nothing of anyone else's call.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import type { ReadRequest, SourceDriver } from '../../src/exec/drivers/driver.js'
import { createPostgresDriver } from '../../src/exec/drivers/postgres/postgres-driver.js'
import { OWN_STATEMENT_NAMES } from '../../src/exec/drivers/postgres/postgres-read-sql.js'
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../../src/exec/embedded/embedded-database.js'
import { createEmbeddedDriver } from '../../src/exec/embedded/embedded-driver.js'
import { silentLogger } from '../../src/log/logger.js'
import { requirePostgres } from '../helpers/postgres-env.js'
import { makeTempDir } from './embedded/embedded-fixtures.js'

const LIMITS = { maxRows: 100, maxBytes: 1_000_000, statementTimeoutMs: 30_000 }

const POLLUTERS = [
  "SELECT pg_catalog.set_config('work_mem', '77MB', false)",
  "SELECT pg_catalog.set_config('sqlwarden.principal', 'mallory', false)",
  "SELECT pg_catalog.set_config('search_path', 'pg_temp', false)",
  'SELECT pg_advisory_lock(424242)',
  'SELECT pg_advisory_xact_lock(424243)',
  'PREPARE sneaky AS SELECT 1',
  'LISTEN sneaky_channel',
  'DECLARE sneaky CURSOR WITH HOLD FOR SELECT 1',
  "SELECT pg_catalog.set_config('role', 'none', false)",
]

const PROBE =
  "SELECT current_setting('work_mem') AS work_mem, current_setting('sqlwarden.principal', true) AS principal, " +
  "current_setting('sqlwarden.claim.region', true) AS region, " +
  // The driver's own protocol-level statements (OWN_STATEMENT_NAMES) are kept by design; anything else counts.
  `(SELECT count(*) FROM pg_prepared_statements WHERE from_sql OR NOT (name = ANY ('{${OWN_STATEMENT_NAMES.join(',')}}'::text[]))) AS prepared, ` +
  "(SELECT count(*) FROM pg_cursors WHERE name <> '') AS cursors, " +
  '(SELECT count(*) FROM pg_listening_channels()) AS listening, ' +
  "(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS advisory"

interface Backend {
  readonly name: string
  /** Rounds of polluters. On the embedded database every polluter that leaves state costs a worker restart. */
  readonly rounds: number
  open(): Promise<{ driver: SourceDriver; close(): Promise<void> }>
}

const backends: Backend[] = [
  {
    name: 'PostgreSQL (pool of 2)',
    rounds: 4,
    async open() {
      const url = await requirePostgres()
      const driver = createPostgresDriver({ connectionString: url, poolSize: 2, searchPath: ['public'], lockTimeoutMs: 1_000, logger: silentLogger(), cancel: 'protocol' })
      return { driver, close: () => driver.close() }
    },
  },
  {
    name: 'embedded PGlite',
    rounds: 1,
    async open() {
      const tmp = await makeTempDir('isolation')
      const db: EmbeddedDatabase = await startEmbeddedDatabase({ dataDir: path.join(tmp.dir, 'demo'), logger: silentLogger() })
      const driver = createEmbeddedDriver({ db, createPostgresDriver, searchPath: ['public'], lockTimeoutMs: 1_000, logger: silentLogger() })
      return {
        driver,
        async close() {
          await driver.close()
          await tmp.cleanup()
        },
      }
    },
  },
]

for (const backend of backends) {
  describe(`isolation under concurrency: ${backend.name}`, () => {
    let driver: SourceDriver
    let close: () => Promise<void>
    let defaultWorkMem = ''

    before(async () => {
      ;({ driver, close } = await backend.open())
      const r = await driver.read({ sql: "SELECT current_setting('work_mem')", params: [], limits: LIMITS })
      assert.ok(r.ok)
      defaultWorkMem = String(r.value.rows[0]?.[0])
    })

    after(async () => {
      await close()
    })

    test('interleaved polluting calls and probes of other principals: no probe sees anything of another call', async () => {
      const calls: Promise<string | null>[] = []
      for (let round = 0; round < backend.rounds; round++) {
        for (const [i, sql] of POLLUTERS.entries()) {
          const who = `p${round}_${i}`
          calls.push(
            driver
              .read({ sql, params: [], limits: { ...LIMITS, identity: { dbRole: null, principal: `polluter_${who}`, claims: { region: 'polluted' } } } })
              .then(() => null),
          )
          const request: ReadRequest = { sql: PROBE, params: [], limits: { ...LIMITS, identity: { dbRole: null, principal: who, claims: { region: `r_${who}` } } } }
          calls.push(
            driver.read(request).then((r) => {
              if (!r.ok) return `${who}: probe failed ${r.code}`
              // An unset custom setting reads NULL on a backend that never saw it, '' on one that did.
              const [workMem, principal, region, ...counts] = (r.value.rows[0] ?? []).map((v) => v ?? '')
              const expected = [defaultWorkMem, who, `r_${who}`, '0', '0', '0', '0']
              const got = [workMem, principal, region, ...counts]
              return JSON.stringify(got) === JSON.stringify(expected) ? null : `${who}: ${JSON.stringify(got)} != ${JSON.stringify(expected)}`
            }),
          )
        }
      }
      const problems = (await Promise.all(calls)).filter((p) => p !== null)
      assert.deepEqual(problems, [])
    })

    test('after the storm, a call with no identity sees the connection defaults', async () => {
      for (let i = 0; i < 4; i++) {
        const r = await driver.read({ sql: PROBE, params: [], limits: LIMITS })
        assert.ok(r.ok)
        assert.deepEqual((r.value.rows[0] ?? []).map((v) => v ?? ''), [defaultWorkMem, '', '', '0', '0', '0', '0'])
      }
    })
  })
}
