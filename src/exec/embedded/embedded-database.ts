/**
 * The embedded demo database: PGlite in a worker thread, served over pglite-socket so the ordinary
 * Postgres driver code runs against it unchanged.
 *
 * On disk there are two copies, for two reasons:
 * - The template, `dataDir` (the user's cache directory), is built once and never opened again. It
 *   is built in a sibling directory and published with one atomic rename, so a crash mid-build can
 *   never leave a half-built template behind, and two first starts racing each other are harmless.
 * - Each process serves a private working copy in a fresh 0700 temp directory. Several MCP clients
 *   often start `npx sqlwarden` at the same time, and two PGlite instances on one data directory
 *   would corrupt it; a copy costs a few hundred milliseconds. It also means nothing a session does
 *   outlives it. The copy is deleted on close (and swept on a later start if the process died).
 *
 * On POSIX the socket is a Unix socket inside that 0700 directory, so other local users cannot
 * connect (pglite-socket has no authentication at all). Windows, or a temp path too long for a
 * socket name, falls back to TCP on 127.0.0.1 with an ephemeral port.
 */
import { randomBytes } from 'node:crypto'
import { constants, existsSync, rmSync } from 'node:fs'
import { copyFile, lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import type { Logger } from '../../log/logger.js'
import { DEMO_DATASET_VERSION, DEMO_READER_ROLE } from './demo-dataset.js'
import { resolveEmbeddedDataDir } from './embedded-paths.js'
import type { ParentMessage, WorkerListen, WorkerMessage, WorkerTask } from './pglite-worker.js'

export interface EmbeddedDatabase {
  /** The template directory in the cache (resolved). */
  readonly dataDir: string
  /** Starts at 1 and grows by one on every (re)start; a driver compares it to know its pool is stale. */
  readonly generation: number
  /** A `postgresql://` URL for the current worker. Changes after a restart (TCP port). */
  connectionString(): string
  /** Restarts the worker if it exited on its own. Throws if it cannot be started or after close. */
  ensureRunning(): Promise<void>
  /** Terminates the worker (stopping any running query) and starts a new one on the same copy. */
  restart(reason: string): Promise<void>
  /** Terminates the worker and deletes the working copy. Idempotent. */
  close(): Promise<void>
}

export interface EmbeddedDatabaseOptions {
  /** The source's `dataDir` from config; default from embedded-paths. */
  readonly dataDir?: string
  readonly logger: Logger
  /** Default: `unix` on POSIX, `tcp` on Windows. */
  readonly transport?: 'unix' | 'tcp'
  /** How long a worker may take to open the copy and listen. */
  readonly startTimeoutMs?: number
  /** How long a first-run build (PGlite initdb + seed) may take. */
  readonly buildTimeoutMs?: number
  /** Socket connections the worker accepts. The driver uses one; restarts and tools may add a few. */
  readonly maxConnections?: number
}

/** Written into the template last; a template without it (or with another version) is rebuilt. */
export const TEMPLATE_MANIFEST = 'sqlwarden-embedded.json'
const PGDATA = 'pgdata'
const WORK_PREFIX = 'sqlwarden-embedded-'
const OWNER_FILE = 'owner.json'
/** Longest Unix socket path that is safe on every POSIX platform (macOS allows 103 bytes). */
const MAX_SOCKET_PATH = 100

const DEFAULT_START_TIMEOUT_MS = 30_000
const DEFAULT_BUILD_TIMEOUT_MS = 120_000
const DEFAULT_MAX_CONNECTIONS = 4

interface Manifest {
  readonly format: 1
  readonly datasetVersion: number
  readonly builtAt: string
}

export async function startEmbeddedDatabase(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const logger = options.logger
  const dataDir = resolveEmbeddedDataDir(options.dataDir)
  const startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS
  const buildTimeoutMs = options.buildTimeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS
  const started = Date.now()

  await sweepStale(dataDir, logger)
  await assertOwnable(dataDir)

  const workDir = await mkdtemp(path.join(tmpdir(), WORK_PREFIX))
  await writeFile(path.join(workDir, OWNER_FILE), JSON.stringify({ pid: process.pid }))
  // A process that exits without close() still removes its copy; a killed one is swept later.
  const removeOnExit = () => removeSync(workDir)
  process.once('exit', removeOnExit)

  const pgdata = path.join(workDir, PGDATA)
  const socketPath = path.join(workDir, '.s.PGSQL.5432')
  const transport = options.transport ?? (process.platform === 'win32' ? 'tcp' : 'unix')
  const listen: WorkerListen =
    transport === 'unix' && Buffer.byteLength(socketPath) <= MAX_SOCKET_PATH
      ? { kind: 'unix', path: socketPath }
      : { kind: 'tcp', host: '127.0.0.1' }

  let worker: Worker | null = null
  let port = 0
  let generation = 0
  let alive = false
  let closed = false
  let restarting: Promise<void> | null = null

  /**
   * Starts a serve worker on the working copy; `invalid` when the copy fails the marker check.
   * With `copyFirst`, the template is copied while the worker boots (loading PGlite takes about as
   * long as the copy), and the worker is told to open the copy once it is complete.
   */
  async function serve(copyFirst: boolean): Promise<'ready' | 'invalid'> {
    const task: WorkerTask = { mode: 'serve', pgdata, listen, maxConnections }
    const pending = spawnWorker(task, startTimeoutMs, logger)
    if (copyFirst) {
      try {
        await rm(pgdata, { recursive: true, force: true })
        await copyDirectory(path.join(dataDir, PGDATA), pgdata)
      } catch (error) {
        await pending.worker.terminate()
        await pending.done.catch(() => undefined)
        throw error
      }
    }
    pending.worker.postMessage({ type: 'open' } satisfies ParentMessage)
    const spawned = await pending.done
    if (spawned.message.type === 'invalid') {
      logger.warn({ reason: spawned.message.reason }, 'embedded database copy failed its marker check')
      await spawned.worker.terminate()
      return 'invalid'
    }
    if (spawned.message.type !== 'ready') throw new Error(`unexpected worker message ${spawned.message.type}`)
    logger.debug({ openMs: spawned.message.ms }, 'embedded database worker is serving')
    const current = spawned.worker
    worker = current
    port = spawned.message.port
    generation += 1
    alive = true
    const gen = generation
    current.on('exit', (code) => {
      if (worker !== current) return
      alive = false
      if (!closed) logger.error({ code, generation: gen }, 'embedded database worker exited unexpectedly')
    })
    current.on('error', (error) => {
      logger.error({ err: error, generation: gen }, 'embedded database worker failed')
    })
    return 'ready'
  }

  async function stopWorker(): Promise<void> {
    const current = worker
    worker = null
    alive = false
    if (current !== null) await current.terminate()
  }

  try {
    let built = await ensureTemplate(dataDir, false, buildTimeoutMs, logger)
    const first = await serve(true).catch((error: unknown) => {
      // A fresh build that cannot be served will not do better the second time.
      if (built) throw error
      logger.warn({ err: error }, 'the cached embedded database could not be opened')
      return 'unusable' as const
    })
    if (first !== 'ready') {
      // The template passed its manifest check but is not usable: rebuild it, once.
      built = await ensureTemplate(dataDir, true, buildTimeoutMs, logger)
      if ((await serve(true)) === 'invalid') throw new Error('the rebuilt embedded database failed its marker check')
    }
    logger.info(
      { ms: Date.now() - started, built, transport: listen.kind, role: DEMO_READER_ROLE },
      built ? 'embedded demo database built and started' : 'embedded demo database started',
    )
    // Said once, at info: this is the expected state of the demo, not something to fix.
    logger.info(
      `the embedded demo runs as role ${DEMO_READER_ROLE} (SET ROLE on PGlite's single superuser session); ` +
        'acceptable only because it is a private, throwaway local copy',
    )
  } catch (error) {
    closed = true
    await stopWorker().catch(() => undefined)
    process.removeListener('exit', removeOnExit)
    await rm(workDir, { recursive: true, force: true }).catch(() => undefined)
    throw error
  }

  async function restartNow(reason: string): Promise<void> {
    const begun = Date.now()
    logger.warn({ reason, generation }, 'restarting the embedded database worker')
    await stopWorker()
    if (closed) throw new Error('the embedded database is closed')
    if ((await serve(false)) === 'invalid') throw new Error('the embedded database copy failed its marker check')
    logger.info({ ms: Date.now() - begun, generation }, 'embedded database worker restarted')
  }

  const db: EmbeddedDatabase = {
    dataDir,
    get generation() {
      return generation
    },
    connectionString() {
      if (listen.kind === 'unix') {
        return `postgresql://postgres@${encodeURIComponent(workDir)}:${port}/postgres`
      }
      return `postgresql://postgres@127.0.0.1:${port}/postgres`
    },
    restart(reason) {
      if (closed) return Promise.reject(new Error('the embedded database is closed'))
      restarting ??= restartNow(reason).finally(() => {
        restarting = null
      })
      return restarting
    },
    async ensureRunning() {
      if (closed) throw new Error('the embedded database is closed')
      if (restarting !== null) return restarting
      if (!alive) return db.restart('the worker is not running')
    },
    async close() {
      if (closed) return
      closed = true
      await restarting?.catch(() => undefined)
      await stopWorker()
      process.removeListener('exit', removeOnExit)
      await rm(workDir, { recursive: true, force: true })
    },
  }
  return db
}

interface Spawned {
  readonly worker: Worker
  readonly message: WorkerMessage
}

/**
 * Where the worker's code is: `pglite-worker.js` next to this file when running from `dist/`, or
 * the `.ts` source when running from source (tests, `tsx`). On Node 20 a worker does not get the
 * parent's tsx loader, and `execArgv: ['--import', 'tsx']` does not help either (the entry module
 * is resolved before the hook is active), so the source case starts from a two-line script that
 * registers tsx and then imports the `.ts` entry.
 */
export function workerEntry(): { readonly script: URL | string; readonly eval: boolean } {
  const js = new URL('./pglite-worker.js', import.meta.url)
  if (existsSync(js)) return { script: js, eval: false }
  const ts = new URL('./pglite-worker.ts', import.meta.url)
  if (!existsSync(ts)) throw new Error(`the embedded database worker is missing next to ${import.meta.url}`)
  const api = import.meta.resolve('tsx/esm/api')
  const script = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(ts.href)}) })`
  return { script, eval: true }
}

/**
 * Spawns a worker for one task. `done` settles on its first message, an early exit, or the
 * timeout (then the worker is terminated).
 */
function spawnWorker(
  task: WorkerTask,
  timeoutMs: number,
  logger: Logger,
): { readonly worker: Worker; readonly done: Promise<Spawned> } {
  const entry = workerEntry()
  // stdout: true — on stdio, fd 1 is the MCP channel, so nothing the worker (PGlite, emscripten)
  // prints may reach it. Both streams go to the debug log instead.
  const worker = new Worker(entry.script, {
    eval: entry.eval,
    workerData: task,
    // Nothing from the parent's command line (test runner flags, loaders) applies to the worker.
    execArgv: [],
    stdout: true,
    stderr: true,
  })
  // Always listened to: an 'error' event without a listener would crash the whole process.
  worker.on('error', (error) => logger.debug({ err: error, task: task.mode }, 'embedded database worker error'))
  for (const [stream, name] of [
    [worker.stdout, 'stdout'],
    [worker.stderr, 'stderr'],
  ] as const) {
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line.trim() !== '') logger.debug({ stream: name, line }, 'embedded worker output')
    })
  }
  const done = new Promise<Spawned>((resolve, reject) => {
    let settled = false
    const finish = (error: Error | null, message?: WorkerMessage) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      worker.off('message', onMessage)
      worker.off('error', onError)
      worker.off('exit', onExit)
      if (error === null && message !== undefined) {
        resolve({ worker, message })
        return
      }
      void worker.terminate().finally(() => reject(error ?? new Error('embedded database worker failed')))
    }
    const onMessage = (message: WorkerMessage) => {
      if (message.type === 'failed') {
        finish(new Error(`the embedded database worker failed during ${task.mode}: ${message.message}`))
      } else {
        finish(null, message)
      }
    }
    const onError = (error: Error) => {
      finish(new Error(`the embedded database worker crashed during ${task.mode}: ${error.message}`, { cause: error }))
    }
    const onExit = (code: number) => {
      finish(new Error(`the embedded database worker exited with code ${code} during ${task.mode}`))
    }
    const timer = setTimeout(() => {
      finish(new Error(`the embedded database worker did not finish ${task.mode} within ${timeoutMs} ms`))
    }, timeoutMs)
    worker.on('message', onMessage)
    worker.on('error', onError)
    worker.on('exit', onExit)
  })
  return { worker, done }
}

async function readManifest(dataDir: string): Promise<Manifest | null> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dataDir, TEMPLATE_MANIFEST), 'utf8')) as Partial<Manifest>
    if (parsed.format !== 1 || typeof parsed.datasetVersion !== 'number') return null
    return parsed as Manifest
  } catch {
    return null
  }
}

async function templateIsValid(dataDir: string): Promise<boolean> {
  const manifest = await readManifest(dataDir)
  return manifest?.datasetVersion === DEMO_DATASET_VERSION && existsSync(path.join(dataDir, PGDATA, 'PG_VERSION'))
}

/**
 * Refuses a `dataDir` that holds someone else's files: sqlwarden deletes and replaces the template
 * when it is stale, and must never do that to a directory it did not create.
 */
async function assertOwnable(dataDir: string): Promise<void> {
  let entries: string[]
  try {
    entries = await readdir(dataDir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw error
  }
  // Ours: empty, or marked by the manifest, or holding nothing but what a template holds.
  if (entries.includes(TEMPLATE_MANIFEST) || entries.every((name) => name === PGDATA)) return
  throw new Error(
    `the embedded database directory ${dataDir} is not empty and was not created by sqlwarden; ` +
      'choose another dataDir or remove it',
  )
}

/** Makes sure a valid template exists, building it when missing, stale or `force`d. Returns whether it built. */
async function ensureTemplate(dataDir: string, force: boolean, timeoutMs: number, logger: Logger): Promise<boolean> {
  if (!force && (await templateIsValid(dataDir))) return false
  const parent = path.dirname(dataDir)
  await mkdir(parent, { recursive: true, mode: 0o700 })
  const buildDir = `${dataDir}.build-${process.pid}-${randomBytes(4).toString('hex')}`
  await mkdir(buildDir, { mode: 0o700 })
  logger.info({ dataDir }, 'building the embedded demo database (first run; this takes a few seconds)')
  try {
    const spawned = await spawnWorker({ mode: 'build', pgdata: path.join(buildDir, PGDATA) }, timeoutMs, logger).done
    await spawned.worker.terminate()
    if (spawned.message.type !== 'built') throw new Error(`unexpected worker message ${spawned.message.type}`)
    const manifest: Manifest = { format: 1, datasetVersion: DEMO_DATASET_VERSION, builtAt: new Date().toISOString() }
    await writeFile(path.join(buildDir, TEMPLATE_MANIFEST), JSON.stringify(manifest, null, 2))
    await publish(buildDir, dataDir, force, logger)
    logger.info({ ms: spawned.message.ms }, 'embedded demo database built')
    return true
  } finally {
    await rm(buildDir, { recursive: true, force: true })
  }
}

/** Moves a finished build into place; the rename is the commit point. */
async function publish(buildDir: string, dataDir: string, replaceValid: boolean, logger: Logger): Promise<void> {
  if (existsSync(dataDir)) {
    if (!replaceValid && (await templateIsValid(dataDir))) return // another process published first
    await assertOwnable(dataDir)
    const aside = `${dataDir}.stale-${process.pid}-${randomBytes(4).toString('hex')}`
    try {
      await rename(dataDir, aside)
      await rm(aside, { recursive: true, force: true })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
  }
  try {
    await rename(buildDir, dataDir)
  } catch (error) {
    // Lost a race with another process: fine if what it published is valid.
    if (await templateIsValid(dataDir)) {
      logger.debug('another process published the embedded template first')
      return
    }
    throw error
  }
}

/**
 * Copies a data directory, all files of a directory at once. About twice as fast as `fs.cp` on the
 * ~1,000 small files of a PostgreSQL data directory. PGlite's stale lock file is left out; the
 * copy gets a fresh one when it opens.
 */
async function copyDirectory(source: string, target: string): Promise<void> {
  await mkdir(target, { recursive: true, mode: 0o700 })
  const entries = await readdir(source, { withFileTypes: true })
  await Promise.all(
    entries.map(async (entry) => {
      const from = path.join(source, entry.name)
      const to = path.join(target, entry.name)
      if (entry.isDirectory()) await copyDirectory(from, to)
      // FICLONE: a copy-on-write clone where the file system can (APFS, btrfs, XFS), else a copy.
      else if (entry.isFile() && entry.name !== 'postmaster.pid') await copyFile(from, to, constants.COPYFILE_FICLONE)
    }),
  )
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Removes working copies and half-finished builds left by processes that no longer exist. Only
 * directories this code names (`sqlwarden-embedded-*` with an owner file, `<dataDir>.build-<pid>-*`,
 * `<dataDir>.stale-*`) are touched, and never one whose owner is alive. Best effort: a failure here
 * never stops the start.
 */
async function sweepStale(dataDir: string, logger: Logger): Promise<void> {
  const uid = process.getuid?.()
  const removeDir = async (dir: string) => {
    try {
      const info = await lstat(dir) // lstat: a planted symlink is not a directory of ours
      if (!info.isDirectory() || (uid !== undefined && info.uid !== uid)) return
      await rm(dir, { recursive: true, force: true })
      logger.debug({ dir }, 'removed a stale embedded database directory')
    } catch {
      // best effort
    }
  }
  try {
    for (const name of await readdir(tmpdir())) {
      if (!name.startsWith(WORK_PREFIX)) continue
      const dir = path.join(tmpdir(), name)
      let pid: unknown
      try {
        pid = (JSON.parse(await readFile(path.join(dir, OWNER_FILE), 'utf8')) as { pid?: unknown }).pid
      } catch {
        continue
      }
      if (typeof pid === 'number' && pid !== process.pid && !isProcessAlive(pid)) await removeDir(dir)
    }
  } catch {
    // best effort
  }
  try {
    const base = path.basename(dataDir)
    for (const name of await readdir(path.dirname(dataDir))) {
      const build = /^\.build-(\d+)-[0-9a-f]+$/.exec(name.slice(base.length))
      const stale = /^\.stale-\d+-[0-9a-f]+$/.test(name.slice(base.length))
      if (!name.startsWith(base) || (build === null && !stale)) continue
      const pid = build !== null ? Number(build[1]) : null
      if (pid !== null && (pid === process.pid || isProcessAlive(pid))) continue
      await removeDir(path.join(path.dirname(dataDir), name))
    }
  } catch {
    // best effort
  }
}

/** For the `exit` handler, which must be synchronous. */
function removeSync(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true })
  } catch {
    // best effort
  }
}
