/**
 * The embedded demo database end to end: first-run build, reuse, rebuild of a bad template,
 * restarts, cleanup, both transports, and running from compiled output without tsx.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { PGlite } from '@electric-sql/pglite'
import { DEMO_COUNTS, DEMO_DATASET_VERSION, INJECTION_PRODUCT_ID, INJECTION_TEXT } from '../../../src/exec/embedded/demo-dataset.js'
import { startEmbeddedDatabase, TEMPLATE_MANIFEST } from '../../../src/exec/embedded/embedded-database.js'
import { captureLogger, demoCounts, makeTempDir, messages, queryOnce } from './embedded-fixtures.js'

const run = promisify(execFile)
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))

/** The private working directory behind a Unix-socket connection string. */
function workDirOf(connectionString: string): string {
  return decodeURIComponent(new URL(connectionString).hostname)
}

/** A pid that no process has right now. */
function deadPid(): number {
  for (let pid = 4_000_000; ; pid--) {
    try {
      process.kill(pid, 0)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return pid
    }
  }
}

describe('embedded database', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>
  let dataDir: string

  before(async () => {
    tmp = await makeTempDir('embedded-db')
    dataDir = path.join(tmp.dir, 'cache', 'sqlwarden', 'demo-pg18')
  })

  after(async () => {
    await tmp.cleanup()
  })

  it('first start builds and seeds the demo data, and serves it as the reader role', async (t) => {
    const { logger, records } = captureLogger()
    const started = Date.now()
    const db = await startEmbeddedDatabase({ dataDir, logger })
    const ms = Date.now() - started
    t.diagnostic(`first start (build + seed + serve): ${ms} ms, rss ${Math.round(process.memoryUsage().rss / 1e6)} MB`)
    try {
      assert.equal(db.generation, 1)
      assert.ok(messages(records).includes('embedded demo database built'))
      assert.deepEqual(await demoCounts(db.connectionString()), { ...DEMO_COUNTS })

      const [who] = await queryOnce<{ current_user: string; session_user: string; su: string }>(
        db.connectionString(),
        "SELECT current_user, session_user, current_setting('is_superuser') AS su",
      )
      assert.deepEqual(who, { current_user: 'sqlwarden_reader', session_user: 'postgres', su: 'off' })

      const [injection] = await queryOnce<{ description: string }>(
        db.connectionString(),
        'SELECT description FROM products WHERE id = $1',
        [INJECTION_PRODUCT_ID],
      )
      assert.equal(injection?.description, INJECTION_TEXT)

      const comments = await queryOnce<{ relname: string; comment: string | null }>(
        db.connectionString(),
        `SELECT c.relname, obj_description(c.oid, 'pg_class') AS comment
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v') ORDER BY 1`,
      )
      assert.deepEqual(
        comments.map((c) => c.relname),
        ['customers', 'order_summary', 'orders', 'products'],
      )
      assert.ok(comments.every((c) => c.comment !== null && c.comment.length > 10))

      const [summary] = await queryOnce<{ n: number }>(db.connectionString(), 'SELECT count(*)::int AS n FROM order_summary')
      assert.equal(summary?.n, DEMO_COUNTS.customers)

      // The marker lives where the reader cannot look.
      await assert.rejects(
        queryOnce(db.connectionString(), 'SELECT * FROM sqlwarden_internal.sqlwarden_meta'),
        (error: { code?: string }) => error.code === '42501',
      )
      const manifest = JSON.parse(await readFile(path.join(dataDir, TEMPLATE_MANIFEST), 'utf8')) as { datasetVersion: number }
      assert.equal(manifest.datasetVersion, DEMO_DATASET_VERSION)
      assert.equal(existsSync(path.join(dataDir, 'pgdata', 'postmaster.pid')), false, 'the template is never opened')
    } finally {
      await db.close()
    }
  })

  it('a later start reuses the template: no rebuild, and faster', async (t) => {
    const before = await readFile(path.join(dataDir, TEMPLATE_MANIFEST), 'utf8')
    const { logger, records } = captureLogger()
    const started = Date.now()
    const db = await startEmbeddedDatabase({ dataDir, logger })
    const ms = Date.now() - started
    t.diagnostic(`later start (copy + open): ${ms} ms, rss ${Math.round(process.memoryUsage().rss / 1e6)} MB`)
    try {
      assert.ok(!messages(records).some((m) => m.startsWith('building')), 'did not rebuild')
      assert.ok(messages(records).includes('embedded demo database started'))
      assert.equal(await readFile(path.join(dataDir, TEMPLATE_MANIFEST), 'utf8'), before)
      assert.deepEqual(await demoCounts(db.connectionString()), { ...DEMO_COUNTS })
      assert.ok(ms < 5_000, `a later start took ${ms} ms`)
    } finally {
      await db.close()
    }
  })

  it('restart terminates the worker and reopens the same data', async (t) => {
    const { logger } = captureLogger()
    const db = await startEmbeddedDatabase({ dataDir, logger })
    try {
      const firstUrl = db.connectionString()
      const started = Date.now()
      await db.restart('test')
      t.diagnostic(`restart: ${Date.now() - started} ms`)
      assert.equal(db.generation, 2)
      assert.equal(workDirOf(db.connectionString()), workDirOf(firstUrl), 'same working copy')
      assert.deepEqual(await demoCounts(db.connectionString()), { ...DEMO_COUNTS })
      // Concurrent restarts collapse into one.
      await Promise.all([db.restart('a'), db.restart('b')])
      assert.equal(db.generation, 3)
      await db.ensureRunning()
      assert.equal(db.generation, 3, 'ensureRunning leaves a live worker alone')
    } finally {
      await db.close()
    }
  })

  it('close terminates the worker and deletes the private working copy', async () => {
    const { logger } = captureLogger()
    const db = await startEmbeddedDatabase({ dataDir, logger })
    const workDir = workDirOf(db.connectionString())
    assert.ok(existsSync(path.join(workDir, 'pgdata', 'PG_VERSION')))
    await db.close()
    await db.close()
    assert.equal(existsSync(workDir), false)
    await assert.rejects(db.restart('after close'), /closed/)
    await assert.rejects(db.ensureRunning(), /closed/)
    await assert.rejects(queryOnce(db.connectionString(), 'SELECT 1'))
  })

  it('two processes can serve the same template at once (each has its own copy)', async () => {
    const { logger } = captureLogger()
    const [a, b] = await Promise.all([startEmbeddedDatabase({ dataDir, logger }), startEmbeddedDatabase({ dataDir, logger })])
    try {
      assert.notEqual(workDirOf(a.connectionString()), workDirOf(b.connectionString()))
      assert.deepEqual(await demoCounts(a.connectionString()), await demoCounts(b.connectionString()))
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('serves over TCP on 127.0.0.1 with an ephemeral port when asked (the Windows default)', async () => {
    const { logger } = captureLogger()
    const db = await startEmbeddedDatabase({ dataDir, logger, transport: 'tcp' })
    try {
      const url = new URL(db.connectionString())
      assert.equal(url.hostname, '127.0.0.1')
      assert.ok(Number(url.port) > 0 && Number(url.port) !== 5432)
      assert.deepEqual(await demoCounts(db.connectionString()), { ...DEMO_COUNTS })
      const before = url.port
      await db.restart('tcp restart')
      assert.deepEqual(await demoCounts(db.connectionString()), { ...DEMO_COUNTS })
      assert.ok(new URL(db.connectionString()).port !== '' && before !== '')
    } finally {
      await db.close()
    }
  })

  it('rebuilds a template whose marker is missing (a half-initialised database)', async () => {
    const db = new PGlite(path.join(dataDir, 'pgdata'))
    await db.exec('DROP TABLE sqlwarden_internal.sqlwarden_meta')
    await db.close()
    await rm(path.join(dataDir, 'pgdata', 'postmaster.pid'), { force: true })

    const { logger, records } = captureLogger()
    const started = await startEmbeddedDatabase({ dataDir, logger })
    try {
      assert.ok(messages(records).includes('embedded database copy failed its marker check'))
      assert.ok(messages(records).includes('embedded demo database built'))
      assert.deepEqual(await demoCounts(started.connectionString()), { ...DEMO_COUNTS })
    } finally {
      await started.close()
    }
  })

  it('rebuilds a template that PGlite cannot open', async () => {
    // Keep the manifest but gut the data directory, as a disk clean-up tool might.
    await rm(path.join(dataDir, 'pgdata', 'base'), { recursive: true, force: true })
    await rm(path.join(dataDir, 'pgdata', 'global'), { recursive: true, force: true })
    const { logger, records } = captureLogger()
    const db = await startEmbeddedDatabase({ dataDir, logger, startTimeoutMs: 20_000 })
    try {
      assert.ok(messages(records).includes('the cached embedded database could not be opened'))
      assert.ok(messages(records).includes('embedded demo database built'))
      assert.deepEqual(await demoCounts(db.connectionString()), { ...DEMO_COUNTS })
    } finally {
      await db.close()
    }
  })

  it('rebuilds when the manifest is missing, and sweeps leftovers of dead processes', async () => {
    const pid = deadPid()
    const leftoverBuild = `${dataDir}.build-${pid}-deadbeef`
    await mkdir(path.join(leftoverBuild, 'pgdata'), { recursive: true })
    await writeFile(path.join(leftoverBuild, 'pgdata', 'PG_VERSION'), '18\n')
    const staleWork = path.join(tmpdir(), `sqlwarden-embedded-test${pid}`)
    await mkdir(staleWork, { recursive: true })
    await writeFile(path.join(staleWork, 'owner.json'), JSON.stringify({ pid }))
    await rm(path.join(dataDir, TEMPLATE_MANIFEST))

    const { logger, records } = captureLogger()
    const db = await startEmbeddedDatabase({ dataDir, logger })
    try {
      assert.ok(messages(records).includes('embedded demo database built'))
      assert.equal(existsSync(leftoverBuild), false, 'a dead build directory is removed')
      assert.equal(existsSync(staleWork), false, 'a dead working copy is removed')
      assert.deepEqual(await demoCounts(db.connectionString()), { ...DEMO_COUNTS })
    } finally {
      await db.close()
      await rm(staleWork, { recursive: true, force: true })
    }
  })

  it('refuses a non-empty dataDir that sqlwarden did not create, and leaves it alone', async () => {
    const foreign = path.join(tmp.dir, 'my-documents')
    await mkdir(foreign)
    await writeFile(path.join(foreign, 'thesis.txt'), 'precious')
    const { logger } = captureLogger()
    await assert.rejects(startEmbeddedDatabase({ dataDir: foreign, logger }), /not created by sqlwarden/)
    assert.equal(await readFile(path.join(foreign, 'thesis.txt'), 'utf8'), 'precious')
  })

  it('runs from compiled JavaScript without tsx, and prints nothing on stdout', async (t) => {
    const out = path.join(tmp.dir, 'dist-check')
    await mkdir(out, { recursive: true })
    await writeFile(path.join(out, 'package.json'), '{ "type": "module" }')
    await symlink(path.join(repoRoot, 'node_modules'), path.join(out, 'node_modules'), 'dir')
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc')
    // Only the embedded modules and what they import, so unrelated work in progress cannot break this.
    await run(
      process.execPath,
      [
        tsc,
        ...['--outDir', path.join(out, 'dist'), '--rootDir', path.join(repoRoot, 'src')],
        ...['--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022'],
        ...['--types', 'node', '--skipLibCheck', '--strict'],
        path.join(repoRoot, 'src/exec/embedded/embedded-database.ts'),
        path.join(repoRoot, 'src/exec/embedded/pglite-worker.ts'),
      ],
      { cwd: repoRoot },
    )
    assert.ok(existsSync(path.join(out, 'dist/exec/embedded/pglite-worker.js')))
    const script = `
      import pg from 'pg'
      import { startEmbeddedDatabase, workerEntry } from './dist/exec/embedded/embedded-database.js'
      import { createLogger } from './dist/log/logger.js'
      const entry = workerEntry()
      const started = Date.now()
      const db = await startEmbeddedDatabase({ dataDir: ${JSON.stringify(dataDir)}, logger: createLogger('debug') })
      const ms = Date.now() - started
      const client = new pg.Client({ connectionString: db.connectionString() })
      await client.connect()
      const { rows } = await client.query('SELECT count(*)::int AS n FROM orders')
      await client.end()
      await db.close()
      process.stdout.write(JSON.stringify({ eval: entry.eval, script: String(entry.script), n: rows[0].n, ms }) + '\\n')
    `
    const child = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: out, env: { ...process.env, NODE_OPTIONS: '' } })
    const lines = child.stdout.split('\n').filter((l) => l !== '')
    assert.equal(lines.length, 1, `stdout must carry only the script's own line, got: ${child.stdout}`)
    const result = JSON.parse(lines[0] ?? '{}') as { eval: boolean; script: string; n: number; ms: number }
    t.diagnostic(`later start from dist/: ${result.ms} ms`)
    assert.equal(result.eval, false)
    assert.ok(result.script.endsWith('/dist/exec/embedded/pglite-worker.js'))
    assert.equal(result.n, DEMO_COUNTS.orders)
    assert.match(child.stderr, /embedded demo database started/)
  })
})
