/**
 * worker_threads entry that owns one PGlite instance. PGlite runs PostgreSQL in WASM on the thread
 * that calls it: a long query blocks that thread, and PGlite does not enforce statement_timeout.
 * Keeping it here means the main thread stays responsive and can stop a runaway query the only way
 * that works, by terminating this worker (see embedded-database and embedded-driver).
 *
 * Two tasks:
 * - `build`: create a fresh data directory, run the demo build script in one transaction (the
 *   marker row commits with the data or not at all), close cleanly, report `built`.
 * - `serve`: open an existing data directory, check the marker, switch the shared session to the
 *   non-superuser reader role, and serve it with pglite-socket so the ordinary `pg` driver code
 *   talks to it. Reports `ready` with the port, or `invalid` when the marker is missing or stale.
 *
 * This module runs code on import; the parent must only `import type` from it.
 */
import { rm } from 'node:fs/promises'
import { isMainThread, parentPort, workerData } from 'node:worker_threads'
import { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
import { DEMO_DATASET_VERSION, DEMO_MARKER_SQL, DEMO_READER_ROLE, demoDatasetSql } from './demo-dataset.js'

export type WorkerListen =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string }

export type WorkerTask =
  | { readonly mode: 'build'; readonly pgdata: string }
  | {
      readonly mode: 'serve'
      readonly pgdata: string
      readonly listen: WorkerListen
      /** pglite-socket multiplexes these onto PGlite's single backend, one transaction at a time. */
      readonly maxConnections: number
    }

/** Sent to a serve worker once its data directory is in place; it boots while the copy runs. */
export type ParentMessage = { readonly type: 'open' }

export type WorkerMessage =
  | { readonly type: 'built'; readonly ms: number }
  | { readonly type: 'ready'; readonly port: number; readonly ms: number }
  | { readonly type: 'invalid'; readonly reason: string }
  | { readonly type: 'failed'; readonly message: string }

/** The port in a pglite-socket Unix socket name, `.s.PGSQL.<port>`, which is what libpq and pg use. */
const UNIX_SOCKET_PORT = 5432

function post(message: WorkerMessage): void {
  parentPort?.postMessage(message)
}

async function build(pgdata: string): Promise<void> {
  const started = Date.now()
  const db = await PGlite.create({ dataDir: pgdata })
  try {
    await db.exec(demoDatasetSql())
    // Every start copies the template, and template0/template1 are two thirds of its ~1,000 files.
    // The demo never creates databases, so they go. DROP DATABASE refuses a transaction block,
    // hence one call each.
    for (const name of ['template0', 'template1']) {
      await db.exec(`ALTER DATABASE ${name} IS_TEMPLATE false`)
      await db.exec(`DROP DATABASE ${name}`)
    }
    await db.exec('CHECKPOINT')
    const version = await markerVersion(db)
    if (version !== DEMO_DATASET_VERSION) throw new Error(`marker check after build returned ${String(version)}`)
  } finally {
    await db.close()
  }
  post({ type: 'built', ms: Date.now() - started })
}

/** The dataset version recorded by a finished build, or null when the marker is absent. */
async function markerVersion(db: PGlite): Promise<number | null> {
  try {
    const result = await db.query<{ version: number | null }>(DEMO_MARKER_SQL)
    return result.rows[0]?.version ?? null
  } catch {
    // undefined_table: the build never committed.
    return null
  }
}

function openSignal(): Promise<void> {
  return new Promise((resolve) => {
    parentPort?.once('message', (message: ParentMessage) => {
      if (message.type === 'open') resolve()
    })
  })
}

async function serve(task: Extract<WorkerTask, { mode: 'serve' }>): Promise<void> {
  await openSignal()
  const started = Date.now()
  const db = await PGlite.create({ dataDir: task.pgdata })
  const version = await markerVersion(db)
  if (version !== DEMO_DATASET_VERSION) {
    await db.close()
    post({
      type: 'invalid',
      reason: version === null ? 'marker missing' : `dataset version ${version}, expected ${DEMO_DATASET_VERSION}`,
    })
    return
  }
  // Every socket connection shares this one session, so these session settings apply to all of
  // them. pglite-socket cannot log in as another user (the startup packet's user is ignored and
  // session_user stays the bootstrap superuser), so SET ROLE is the closest we get: grants and
  // superuser-only functions are checked against the reader role. It is a second layer, not a
  // boundary: RESET ROLE would undo it, and SQL analysis is what refuses SET/RESET.
  // A policy's dbRole is applied per call by the driver's transaction-local set_config('role'),
  // as on PostgreSQL. The superuser session user may set any role, so the start-up role check
  // accepts only mapped roles granted to the reader (demo_analyst, demo_support; see open-sources).
  await db.exec(`SET ROLE ${DEMO_READER_ROLE}; SET default_transaction_read_only = on;`)

  const listen = task.listen
  if (listen.kind === 'unix') await rm(listen.path, { force: true })
  const server = new PGLiteSocketServer({
    db,
    ...(listen.kind === 'unix' ? { path: listen.path } : { host: listen.host, port: 0 }),
    maxConnections: task.maxConnections,
  })
  await server.start()
  const port = listen.kind === 'unix' ? UNIX_SOCKET_PORT : Number(server.getServerConn().split(':').pop())
  if (!Number.isInteger(port) || port <= 0) throw new Error('pglite-socket did not report a port')
  post({ type: 'ready', port, ms: Date.now() - started })
}

async function main(): Promise<void> {
  if (isMainThread || parentPort === null) throw new Error('pglite-worker must run in a worker thread')
  const task = workerData as WorkerTask
  if (task.mode === 'build') await build(task.pgdata)
  else await serve(task)
}

main().catch((error: unknown) => {
  // The parent terminates the worker on `failed`; the message is for its log only.
  post({ type: 'failed', message: error instanceof Error ? error.message : String(error) })
})
