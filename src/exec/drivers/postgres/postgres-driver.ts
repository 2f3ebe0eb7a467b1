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
import type { CallLimits, ReadRequest, ReadResult, SourceDriver, SqlParam } from '../driver.js'
import { CANCEL_WAIT_MS, callCaps, callSettings, outcomeFailure, positiveMs, withLeasedCall, type StopReason } from './postgres-call.js'
import { createPostgresCatalog } from './postgres-catalog.js'
import { sendCancelRequest } from './postgres-cancel.js'
import { cancelled, describeError, sqlState } from './postgres-errors.js'
import { PortalQuery, type PortalOutcome, type PortalRows } from './postgres-portal-query.js'
import { readResult } from './postgres-row-collector.js'
import { SessionIdentity } from './postgres-session-identity.js'
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

/** Limits for catalog lookups that have no caller limits (function and role checks). */
const CATALOG_LIMITS: CallLimits = { maxRows: 100_000, maxBytes: 32 * 1024 * 1024, statementTimeoutMs: 10_000 }

/** Catalog SQL resolves every name in pg_catalog, whatever the configured search path holds. */
const CATALOG_SEARCH_PATH = ['pg_catalog'] as const

/**
 * The errors a statement bound from the session's kept statements can get that the same text parsed
 * afresh would not: `cached plan must not change result type` (0A000, a column of what it reads was
 * added, dropped or retyped since it was parsed) and `prepared statement does not exist` (26000).
 * Any other 0A000 comes back from the fresh parse as well, and is reported then.
 */
function keptStatementFailed(error: unknown): boolean {
  const state = sqlState(error)
  return state === '0A000' || state === '26000'
}

/** `"name"`, with embedded quotes doubled: search_path takes identifiers, not strings. */
function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
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

  // A real server gives each connection a session of its own, and the driver checks it stays so;
  // the embedded PGlite backend is one session shared by all by design (postgres-session-identity.ts).
  const sessions = options.cancel === 'protocol' ? new SessionIdentity(logger) : null
  const callDeps = { pool, logger, sessions, isClosing: () => closing !== null }

  function run(
    sql: string,
    params: readonly SqlParam[],
    limits: CallLimits,
    signal?: AbortSignal,
    pathOverride?: readonly string[],
  ): Promise<Result<PortalRows>> {
    return withLeasedCall(callDeps, sql, limits, signal, async ({ client, lease, stop, timeoutMs, claims, mark, session }) => {
      const path = pathOverride === undefined ? searchPath : pathOverride.map(quoteIdent).join(', ')
      let query: PortalQuery | null = null
      let outcome: PortalOutcome | StopReason | undefined
      // First try: the whole call in one round trip. If the first chunk was not the whole answer,
      // the transaction is already rolled back and the statement runs again on the same connection,
      // fetching in rounds. A statement bound from the session's kept statements that failed as only
      // a kept statement can (keptStatementFailed) runs once more, parsed afresh. At most three
      // executions, all inside the same client-side deadline.
      const startedAt = performance.now()
      let speculative = true
      let keptRetried = false
      for (let attempt = 0; attempt < 3; attempt++) {
        if (query !== null && !(await lease.reuseAfter(query))) {
          return fail('ERR_SOURCE_UNAVAILABLE', { subject: 'connection_not_reusable' })
        }
        // A later execution gets what is left of the time limit, so the server still bounds the
        // call's total statement time by statement_timeout.
        const budgetMs = positiveMs(timeoutMs - (performance.now() - startedAt))
        query = new PortalQuery({
          sql,
          params,
          settings: callSettings(budgetMs, lockTimeout, path, limits, { claims, mark }),
          ...callCaps(limits),
          types,
          session,
          speculative,
          ...(statements === undefined ? {} : { statements }),
        })
        client.query(query)
        outcome = await Promise.race([query.result, stop])
        if (typeof outcome === 'string' || outcome.ok) break
        if ('rerun' in outcome) {
          if (!speculative) break
          speculative = false
          continue
        }
        if (keptRetried || !query.boundKept || !keptStatementFailed(outcome.error)) break
        logger.debug({ code: sqlState(outcome.error) }, 'postgres kept statement failed; parsing it again')
        keptRetried = true
      }
      if (query === null || outcome === undefined) throw new Error('unreachable: no query was run')
      if (typeof outcome === 'string') {
        query.stop()
        if (options.cancel === 'protocol') {
          const stopped = query
          track(sendCancelRequest(client).then(() => lease.abandon(stopped, CANCEL_WAIT_MS)))
        } else {
          lease.destroy('cancelled')
        }
        return cancelled({ cancelledBy: outcome, statementTimeoutMs: timeoutMs })
      }
      track(lease.settle(query))
      if (outcome.ok) return ok(outcome.value)
      if ('rerun' in outcome) return fail('ERR_INTERNAL', { subject: 'rerun_twice' })
      return outcomeFailure(logger, outcome, timeoutMs, {
        refused: 'postgres read refused: unexpected reply',
        failed: 'postgres statement failed',
      })
    })
  }

  async function read(request: ReadRequest): Promise<Result<ReadResult>> {
    const result = await run(request.sql, request.params, request.limits, request.signal)
    return result.ok ? ok(readResult(result.value)) : result
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
      pool, logger, sessions, types, searchPath, lockTimeoutMs: options.lockTimeoutMs, cancel: options.cancel,
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
