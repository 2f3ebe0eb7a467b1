/**
 * The SourceDriver of the embedded source: the ordinary Postgres driver pointed at the PGlite
 * worker, plus a watchdog, because PGlite does not enforce `statement_timeout` and pglite-socket
 * drops CancelRequest. The only way to stop a runaway query is to terminate the worker, so that is
 * what the watchdog does (I6: every query is bounded by the server side, here the worker boundary).
 *
 * Calls run one at a time. Every socket connection shares PGlite's single backend and pglite-socket
 * runs one transaction at a time anyway, so concurrency would only hide the queue inside the
 * worker, where no timer can see it. Here, the queue is visible: a call's watchdog starts when the
 * call starts, and a queued call waits at most its own time limit.
 *
 * When the watchdog fires, the running call gets ERR_EXEC_TIMEOUT at once, and the queue stays
 * blocked until the worker has restarted on the same working copy. Queued calls never reached the
 * database, so they then run on the new worker; no statement is ever sent twice.
 *
 * The Postgres driver factory is injected so this file does not depend on the postgres folder.
 */
import type { Logger } from '../../log/logger.js'
import { fail, type Fail, type Result } from '../../util/result.js'
import type { CallLimits, ReadRequest, SourceDriver } from '../drivers/driver.js'
import type { EmbeddedDatabase } from './embedded-database.js'

/** What this driver passes to the Postgres driver factory. */
export interface EmbeddedInnerDriverOptions {
  readonly connectionString: string
  /** One: the backend is shared and serial, see above. */
  readonly poolSize: number
  readonly searchPath: string[]
  readonly lockTimeoutMs: number
  readonly logger: Logger
  /** pglite-socket ignores CancelRequest; the watchdog cancels by restarting the worker. */
  readonly cancel: 'none'
  readonly applicationName?: string
}

export type PostgresDriverFactory = (options: EmbeddedInnerDriverOptions) => SourceDriver | Promise<SourceDriver>

export interface EmbeddedDriverOptions {
  readonly db: EmbeddedDatabase
  readonly createPostgresDriver: PostgresDriverFactory
  readonly searchPath: readonly string[]
  readonly lockTimeoutMs: number
  readonly logger: Logger
  /** Added to a call's time limit before the watchdog fires, so the limit itself is honoured. */
  readonly graceMs?: number
  /** Limit for calls that carry no CallLimits (function and operator lookups, the role report). */
  readonly catalogTimeoutMs?: number
}

const DEFAULT_GRACE_MS = 250
const DEFAULT_CATALOG_TIMEOUT_MS = 10_000
const STALE_DRIVER_CLOSE_MS = 2_000
/**
 * How much longer a queued call waits when its wait ran out while the worker was restarting: a
 * restart (after a timeout, say) is a known, short outage, and a loaded machine can take seconds
 * for it; the calls behind it are served after it instead of failing.
 */
const RESTART_WAIT_MS = 15_000
/** setTimeout fires at once for anything longer (a 32-bit millisecond count). */
const MAX_TIMER_MS = 2_147_483_647

function timerMs(ms: number): number {
  return Math.min(Math.max(0, ms), MAX_TIMER_MS)
}

interface Waiter {
  grant(): void
}

type Outcome<T> =
  | { readonly kind: 'done'; readonly result: Result<T> }
  | { readonly kind: 'threw'; readonly error: unknown }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'aborted' }

/** Inner results after which the worker's state is unknown (a query may still be running in it). */
const RESTART_AFTER: ReadonlySet<string> = new Set(['ERR_EXEC_TIMEOUT', 'ERR_EXEC_CANCELLED', 'ERR_SOURCE_UNAVAILABLE'])

/** Session state that outlives a transaction, on the one backend every connection shares. */
const SHARED_SESSION_PROBE =
  "SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.pg_locks WHERE locktype OPERATOR(pg_catalog.=) 'advisory'), " +
  '(SELECT pg_catalog.count(*) FROM pg_catalog.pg_prepared_statements), ' +
  "(SELECT pg_catalog.count(*) FROM pg_catalog.pg_cursors WHERE name OPERATOR(pg_catalog.<>) ''), " +
  '(SELECT pg_catalog.count(*) FROM pg_catalog.pg_listening_channels())'
const PROBE_LIMITS = { maxRows: 1, maxBytes: 4096, statementTimeoutMs: 2_000 }

export function createEmbeddedDriver(options: EmbeddedDriverOptions): SourceDriver {
  const { db, logger } = options
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS
  const catalogTimeoutMs = options.catalogTimeoutMs ?? DEFAULT_CATALOG_TIMEOUT_MS

  let inner: SourceDriver | null = null
  let innerGeneration = -1
  let closed = false
  let busy = false
  /** True while the worker restarts after a call, holding the slot. */
  let restartHeld = false
  const waiters: Waiter[] = []

  /** Waits for the call slot, at most `waitMs`; null when granted. */
  function acquire(waitMs: number, signal: AbortSignal | undefined): Promise<Fail | null> {
    if (!busy) {
      busy = true
      return Promise.resolve(null)
    }
    return new Promise((resolve) => {
      const settle = (value: Fail | null) => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        const index = waiters.indexOf(waiter)
        if (index >= 0) waiters.splice(index, 1)
        resolve(value)
      }
      const waiter: Waiter = { grant: () => settle(closed ? unavailable('closed') : null) }
      const onAbort = () => settle(fail('ERR_EXEC_CANCELLED'))
      let extended = false
      const expire = () => {
        if (restartHeld && !extended) {
          extended = true
          timer = setTimeout(expire, RESTART_WAIT_MS)
          return
        }
        settle(unavailable(`queued longer than ${waitMs} ms`))
      }
      let timer = setTimeout(expire, timerMs(waitMs))
      signal?.addEventListener('abort', onAbort, { once: true })
      waiters.push(waiter)
    })
  }

  /** Hands the slot to the next waiter (which may already have given up and left the list). */
  function release(): void {
    const next = waiters.shift()
    if (next === undefined) busy = false
    else next.grant()
  }

  function unavailable(reason: string, cause?: unknown): Fail {
    return fail('ERR_SOURCE_UNAVAILABLE', { cause: cause ?? new Error(`embedded database: ${reason}`) })
  }

  /** The inner driver for the current worker, recreated when the worker has been restarted. */
  async function currentDriver(): Promise<Result<SourceDriver>> {
    try {
      await db.ensureRunning()
      if (inner !== null && innerGeneration === db.generation) return { ok: true, value: inner }
      void dropInner()
      const generation = db.generation
      inner = await options.createPostgresDriver({
        connectionString: db.connectionString(),
        poolSize: 1,
        searchPath: [...options.searchPath],
        lockTimeoutMs: options.lockTimeoutMs,
        logger,
        cancel: 'none',
        applicationName: 'sqlwarden-embedded',
      })
      innerGeneration = generation
      return { ok: true, value: inner }
    } catch (error) {
      logger.error({ err: error }, 'the embedded database is not available')
      return unavailable('not running', error)
    }
  }

  /**
   * Forgets the inner driver and closes it, bounded: after a restart its pool points at a dead
   * worker, so closing it is best effort. Callers on the hot path do not wait for it.
   */
  function dropInner(): Promise<void> {
    const stale = inner
    inner = null
    innerGeneration = -1
    if (stale === null) return Promise.resolve()
    let timer: NodeJS.Timeout | undefined
    return Promise.race([
      Promise.resolve().then(() => stale.close()),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, STALE_DRIVER_CLOSE_MS)
        timer.unref()
      }),
    ])
      .catch((error: unknown) => logger.debug({ err: error }, 'closing a stale embedded driver failed'))
      .finally(() => clearTimeout(timer))
  }

  /** Terminates the worker (which stops whatever it runs) and starts a fresh one. Never throws. */
  async function restart(reason: string): Promise<void> {
    void dropInner()
    try {
      await db.restart(reason)
    } catch (error) {
      // The next call tries again through ensureRunning, and fails closed if it cannot.
      logger.error({ err: error }, 'the embedded database worker did not restart')
    }
  }

  /**
   * Runs one call under the slot and the watchdog. `timeoutMs` bounds both the wait for the slot
   * and the call itself (plus the grace), so no call waits forever.
   */
  async function guarded<T>(
    call: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    op: (driver: SourceDriver) => Promise<Result<T>>,
  ): Promise<Result<T>> {
    if (closed) return unavailable('closed')
    if (signal?.aborted === true) return fail('ERR_EXEC_CANCELLED')
    const refused = await acquire(timeoutMs, signal)
    if (refused !== null) return refused
    let after: Promise<void> | null = null
    try {
      if (closed) return unavailable('closed')
      const driver = await currentDriver()
      if (!driver.ok) return driver
      const target = driver.value
      const outcome = await watch(Promise.resolve().then(() => op(target)), timeoutMs + graceMs, signal)
      const settled = conclude(call, timeoutMs, outcome)
      // All connections share PGlite's one backend, so destroying a connection does not clear
      // session state (advisory locks, prepared statements) the way it does on a real server. Check
      // the shared session before the next call may run, and restart the worker if anything is left.
      const reason = settled.restartReason ?? (await sharedSessionLeak(target))
      after = reason === null ? null : restart(reason)
      return settled.result
    } finally {
      // The answer goes back now; the next call waits until the worker is fresh.
      if (after === null) release()
      else {
        restartHeld = true
        void after.finally(() => {
          restartHeld = false
          release()
        })
      }
    }
  }

  /** null when the shared session is clean; otherwise why the worker must be restarted. */
  async function sharedSessionLeak(target: SourceDriver): Promise<string | null> {
    const probe = await watch(
      Promise.resolve().then(() => target.read({ sql: SHARED_SESSION_PROBE, params: [], limits: PROBE_LIMITS })),
      PROBE_LIMITS.statementTimeoutMs + graceMs,
      undefined,
    )
    if (probe.kind !== 'done' || !probe.result.ok) return 'the shared-session check failed'
    const leaked = (probe.result.value.rows[0] ?? []).reduce<number>((sum, v) => sum + Number(v), 0)
    if (leaked === 0) return null
    logger.warn({ leaked }, 'a call left session state on the shared embedded backend; restarting the worker')
    return 'session state left on the shared backend'
  }

  /** The caller's result for an outcome, and whether the worker must be restarted (and why). */
  function conclude<T>(
    call: string,
    timeoutMs: number,
    outcome: Outcome<T>,
  ): { readonly result: Result<T>; readonly restartReason: string | null } {
    switch (outcome.kind) {
      case 'done': {
        const result = outcome.result
        const restartReason = !result.ok && RESTART_AFTER.has(result.code) ? `${call} ended with ${result.code}` : null
        return { result, restartReason }
      }
      case 'threw':
        logger.error({ err: outcome.error, call }, 'the embedded driver threw')
        return { result: fail('ERR_INTERNAL', { cause: outcome.error }), restartReason: `${call} threw` }
      case 'timeout':
        logger.warn({ call, limitMs: timeoutMs }, 'embedded query exceeded its time limit; terminating the worker')
        return {
          result: fail('ERR_EXEC_TIMEOUT', { data: { limitMs: timeoutMs } }),
          restartReason: `watchdog: ${call} exceeded ${timeoutMs} ms`,
        }
      case 'aborted':
        return { result: fail('ERR_EXEC_CANCELLED'), restartReason: `${call} was cancelled` }
    }
  }

  function readWith(kind: 'read' | 'explain', request: ReadRequest) {
    // The signal is ours to act on: the inner driver cannot cancel on PGlite.
    const { signal, ...rest } = request
    return guarded(kind, request.limits.statementTimeoutMs, signal, (d) => d[kind](rest))
  }

  return {
    dialect: 'postgres',
    read: (request) => readWith('read', request),
    explain: (request) => readWith('explain', request),
    // The demo database never writes: its worker serves a read-only reader role by design (D11).
    write: async () => fail('ERR_WRITE_SOURCE_READ_ONLY'),
    listSchemas: (limits: CallLimits) =>
      guarded('listSchemas', limits.statementTimeoutMs, undefined, (d) => d.listSchemas(limits)),
    listTables: (schema, limits) =>
      guarded('listTables', limits.statementTimeoutMs, undefined, (d) => d.listTables(schema, limits)),
    describeTable: (schema, table, limits) =>
      guarded('describeTable', limits.statementTimeoutMs, undefined, (d) => d.describeTable(schema, table, limits)),
    lookupFunctions: (names) =>
      guarded('lookupFunctions', catalogTimeoutMs, undefined, (d) => d.lookupFunctions(names)),
    lookupOperators: (names) =>
      guarded('lookupOperators', catalogTimeoutMs, undefined, (d) => d.lookupOperators(names)),
    lookupRelations: (names) =>
      guarded('lookupRelations', catalogTimeoutMs, undefined, (d) => d.lookupRelations(names)),
    lookupTypes: (names) => guarded('lookupTypes', catalogTimeoutMs, undefined, (d) => d.lookupTypes(names)),
    inspectRole: () => guarded('inspectRole', catalogTimeoutMs, undefined, (d) => d.inspectRole()),
    async close() {
      if (closed) return
      closed = true
      for (const waiter of waiters.splice(0)) waiter.grant()
      // Close the pool while the worker still answers, so its connections end cleanly.
      await dropInner()
      await db.close()
    },
  }
}

/** Races a call against its deadline and its abort signal. The loser's promise is left handled. */
function watch<T>(promise: Promise<Result<T>>, limitMs: number, signal: AbortSignal | undefined): Promise<Outcome<T>> {
  return new Promise((resolve) => {
    const settle = (outcome: Outcome<T>) => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      resolve(outcome)
    }
    const onAbort = () => settle({ kind: 'aborted' })
    const timer = setTimeout(() => settle({ kind: 'timeout' }), timerMs(limitMs))
    signal?.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (result) => settle({ kind: 'done', result }),
      (error: unknown) => settle({ kind: 'threw', error }),
    )
  })
}
