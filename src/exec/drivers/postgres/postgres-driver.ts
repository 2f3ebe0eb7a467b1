/**
 * The PostgreSQL SourceDriver (DESIGN §2 step 9, §5 "PostgreSQL driver"). The only module that
 * opens connections to a PostgreSQL source; the pipeline sees the SourceDriver interface.
 *
 * Every call, user reads and our own catalog SQL alike, takes one path: check out a pooled client,
 * run a PortalQuery (one round trip: BEGIN READ ONLY + transaction-local settings + the statement),
 * hand back the rows, then ROLLBACK and check the session off the critical path, and release the
 * client only if it is provably clean (Lease).
 */
import { pg } from './pg-module.js'
import type { Logger } from '../../../log/logger.js'
import { fail, ok, type Result } from '../../../util/result.js'
import { CLAIM_NAME_PATTERN, type CallLimits, type ReadRequest, type ReadResult, type SourceDriver, type SqlParam } from '../driver.js'
import { createPostgresCatalog } from './postgres-catalog.js'
import { sendCancelRequest } from './postgres-cancel.js'
import { cancelled, describeError, mapPostgresError, type CancelReason } from './postgres-errors.js'
import { Lease } from './postgres-lease.js'
import { PortalQuery, type PortalOutcome, type PortalRows } from './postgres-portal-query.js'
import { SessionStatements } from './postgres-session-statements.js'
import { pgSslConfig, withoutSslParams, type PostgresSslOptions } from './postgres-ssl.js'
import { TypeCache } from './postgres-types.js'
import { createPostgresWrite } from './postgres-write.js'

export interface PostgresDriverOptions {
  /** Never logged and never put in an error we return. */
  readonly connectionString: string
  readonly ssl?: PostgresSslOptions
  readonly poolSize: number
  /** Fixed, transaction-local search_path for every call. */
  readonly searchPath: readonly string[]
  readonly lockTimeoutMs: number
  /** Driver errors go here (stderr), as SQLSTATE and condition only. */
  readonly logger: Logger
  /** `none` for the embedded PGlite backend, which cannot take a cancel request. */
  readonly cancel: 'protocol' | 'none'
  readonly applicationName?: string
  /**
   * Keep sqlwarden's fixed statements parsed in each session (postgres-session-statements.ts).
   * Defaults to on with `cancel: 'protocol'` (a real server, one backend per connection) and off
   * with `none` (PGlite, where every connection shares one backend).
   */
  readonly namedStatements?: boolean
}

/** Fail fast when the database is down; a call must not hang on connect. */
const CONNECT_TIMEOUT_MS = 3_000
/** The client-side deadline is the server's statement_timeout plus this, as a backstop only. */
const DEADLINE_GRACE_MS = 2_000
/** How long an aborted call waits for the server's cancel error before destroying the socket. */
const CANCEL_WAIT_MS = 2_000
/**
 * idle_in_transaction_session_timeout for the read transaction. The driver never leaves it idle
 * (ROLLBACK is pipelined), so this only ends sessions of a stalled or vanished client.
 */
const IDLE_IN_TRANSACTION_MS = 10_000

/** Limits for catalog lookups that have no caller limits (function and role checks). */
const CATALOG_LIMITS: CallLimits = { maxRows: 100_000, maxBytes: 32 * 1024 * 1024, statementTimeoutMs: 10_000 }

/** Catalog SQL resolves every name in pg_catalog, whatever the configured search path holds. */
const CATALOG_SEARCH_PATH = ['pg_catalog'] as const

/** `"name"`, with embedded quotes doubled: search_path takes identifiers, not strings. */
function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** Timeouts of 0 mean "none" in PostgreSQL; a bounded call never sends 0 (I6). */
function positiveMs(ms: number): number {
  return Number.isFinite(ms) && ms >= 1 ? Math.floor(ms) : 1
}

interface StopSignal {
  readonly promise: Promise<CancelReason & string>
  dispose(): void
}

/** Resolves when the caller aborts or the client-side deadline passes, whichever is first. */
function stopSignal(signal: AbortSignal | undefined, deadlineMs: number): StopSignal {
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  const promise = new Promise<'abort' | 'deadline'>((resolve) => {
    timer = setTimeout(() => resolve('deadline'), deadlineMs)
    if (signal !== undefined) {
      onAbort = () => resolve('abort')
      signal.addEventListener('abort', onAbort, { once: true })
    }
  })
  return {
    promise,
    dispose() {
      clearTimeout(timer)
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
    },
  }
}

/** Claims as the JSON object the settings statement reads, or null when a name fails the check. */
function claimsJson(claims: Readonly<Record<string, string>> | undefined): string | null {
  const safe: Record<string, string> = {}
  for (const [name, value] of Object.entries(claims ?? {})) {
    if (!CLAIM_NAME_PATTERN.test(name) || typeof value !== 'string') return null
    safe[name] = value
  }
  return JSON.stringify(safe)
}

export function createPostgresDriver(options: PostgresDriverOptions): SourceDriver {
  const { logger } = options
  const pool = new pg.Pool({
    connectionString: options.ssl === undefined ? options.connectionString : withoutSslParams(options.connectionString),
    ...(options.ssl === undefined ? {} : { ssl: pgSslConfig(options.ssl) }),
    max: options.poolSize,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: options.applicationName ?? 'sqlwarden',
  })
  // An idle client's backend can die at any time; pg-pool reports it here. Logged, never thrown.
  pool.on('error', (error) => logger.warn({ err: describeError(error) }, 'postgres idle connection error'))

  const types = new TypeCache()
  const statements = (options.namedStatements ?? options.cancel === 'protocol') ? new SessionStatements() : undefined
  const searchPath = options.searchPath.map(quoteIdent).join(', ')
  const lockTimeout = String(positiveMs(options.lockTimeoutMs))
  const cleanups = new Set<Promise<void>>()
  let closing: Promise<void> | null = null

  function track(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => logger.error({ err: describeError(error) }, 'postgres cleanup failed'))
    cleanups.add(tracked)
    void tracked.finally(() => cleanups.delete(tracked))
  }

  async function run(
    sql: string,
    params: readonly SqlParam[],
    limits: CallLimits,
    signal?: AbortSignal,
    pathOverride?: readonly string[],
  ): Promise<Result<PortalRows>> {
    if (closing !== null) return fail('ERR_SOURCE_UNAVAILABLE', { subject: 'driver_closed' })
    // The wire format ends SQL text at NUL: the server would run a prefix analysis never saw.
    if (sql.includes('\0')) return fail('ERR_EXEC_INVALID_INPUT', { subject: 'nul_character' })
    // Names are checked by the config schema already; checked again before anything is checked out.
    const claims = claimsJson(limits.identity?.claims)
    if (claims === null) return fail('ERR_INTERNAL', { subject: 'invalid_claim_name' })
    const timeoutMs = positiveMs(limits.statementTimeoutMs)
    if (signal?.aborted === true) return cancelled({ cancelledBy: 'abort' })
    const stop = stopSignal(signal, timeoutMs + DEADLINE_GRACE_MS)
    try {
      const checkout = pool.connect()
      const first = await Promise.race([
        checkout.then(
          (client) => ({ client }),
          (error: unknown) => ({ error }),
        ),
        stop.promise,
      ])
      if (typeof first === 'string') {
        // Nothing ran yet; the client, when it arrives, goes back untouched.
        checkout.then((client) => client.release(), () => undefined)
        return cancelled({ cancelledBy: first, statementTimeoutMs: timeoutMs })
      }
      if ('error' in first) {
        logger.warn({ err: describeError(first.error) }, 'postgres connect failed')
        return mapPostgresError(first.error, { cancelledBy: null, connecting: true })
      }
      const lease = new Lease(first.client, logger)
      const path = pathOverride === undefined ? searchPath : pathOverride.map(quoteIdent).join(', ')
      let query: PortalQuery | null = null
      let outcome: PortalOutcome | 'abort' | 'deadline' | undefined
      // First try: the whole call in one round trip. If the first chunk was not the whole answer,
      // the transaction is already rolled back and the statement runs again on the same connection,
      // fetching in rounds (at most two executions, both inside the same client-side deadline).
      const startedAt = performance.now()
      for (const speculative of [true, false]) {
        if (query !== null && !(await lease.reuseAfter(query))) {
          return fail('ERR_SOURCE_UNAVAILABLE', { subject: 'connection_not_reusable' })
        }
        // The second execution gets what is left of the time limit, so the server still bounds
        // the call's total statement time by statement_timeout.
        const budgetMs = positiveMs(timeoutMs - (performance.now() - startedAt))
        query = new PortalQuery({
          sql,
          params,
          settings: [
            String(budgetMs),
            lockTimeout,
            String(IDLE_IN_TRANSACTION_MS),
            path,
            limits.identity?.dbRole ?? null,
            limits.identity?.principal ?? '',
            claims,
          ],
          maxRows: Math.max(0, Math.floor(limits.maxRows)),
          maxBytes: Math.max(0, Math.floor(limits.maxBytes)),
          types,
          speculative,
          ...(statements === undefined ? {} : { statements }),
        })
        first.client.query(query)
        outcome = await Promise.race([query.result, stop.promise])
        if (typeof outcome === 'string' || outcome.ok || !('rerun' in outcome)) break
      }
      if (query === null || outcome === undefined) throw new Error('unreachable: no query was run')
      if (typeof outcome === 'string') {
        query.stop()
        if (options.cancel === 'protocol') {
          const stopped = query
          track(sendCancelRequest(first.client).then(() => lease.abandon(stopped, CANCEL_WAIT_MS)))
        } else {
          lease.destroy('cancelled')
        }
        return cancelled({ cancelledBy: outcome, statementTimeoutMs: timeoutMs })
      }
      track(lease.settle(query))
      if (outcome.ok) return ok(outcome.value)
      if ('rerun' in outcome) return fail('ERR_INTERNAL', { subject: 'rerun_twice' })
      if (outcome.unexpected !== undefined) {
        logger.warn({ subject: outcome.unexpected }, 'postgres read refused: unexpected reply')
        return fail('ERR_EXEC_QUERY_FAILED', { subject: outcome.unexpected, cause: outcome.error })
      }
      const failure = mapPostgresError(outcome.error, { cancelledBy: null, statementTimeoutMs: timeoutMs })
      logger.info({ err: describeError(outcome.error), code: failure.code }, 'postgres statement failed')
      return failure
    } finally {
      stop.dispose()
    }
  }

  async function read(request: ReadRequest): Promise<Result<ReadResult>> {
    const result = await run(request.sql, request.params, request.limits, request.signal)
    if (!result.ok) return result
    const { columns, rows, truncatedBy, bytes } = result.value
    return ok({ columns, rows, rowCount: rows.length, truncated: truncatedBy !== null, truncatedBy, bytes })
  }

  const catalog = createPostgresCatalog({
    run: (sql, params, limits) => run(sql, params, limits ?? CATALOG_LIMITS, undefined, CATALOG_SEARCH_PATH),
    searchPath: options.searchPath,
  })

  return {
    dialect: 'postgres',
    read,
    explain: (request) => read({ ...request, sql: `EXPLAIN (FORMAT JSON) ${request.sql}` }),
    // Writes (the `execute` tool): same pool, settings, deadline and lease; postgres-write.ts.
    write: createPostgresWrite({
      pool, logger, types, searchPath, lockTimeoutMs: options.lockTimeoutMs, cancel: options.cancel,
      isClosing: () => closing !== null,
      track,
    }),
    ...catalog,
    close() {
      closing ??= (async () => {
        await Promise.allSettled([...cleanups])
        await pool.end()
      })()
      return closing
    },
  }
}
