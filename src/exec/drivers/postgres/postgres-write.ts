/**
 * The PostgreSQL driver's `write` (the `execute` tool). The same path as a read, with a write
 * transaction: a pooled client under the same client-side deadline and abort handling, the same
 * transaction-local settings (statement, lock and idle timeouts, fixed search_path, the policy's
 * dbRole as a bound value, sqlwarden.principal, claims, standard_conforming_strings on), then the
 * WriteQuery (postgres-write-query.ts: BEGIN READ WRITE … COMMIT, or ROLLBACK), and the same
 * Lease: the connection goes back to the pool only when ROLLBACK/COMMIT and the leak check left
 * it idle and clean; otherwise it is destroyed. Errors cross as catalog codes only.
 */
import type { Pool } from 'pg'
import type { Logger } from '../../../log/logger.js'
import { fail, ok, type Result } from '../../../util/result.js'
import { CLAIM_NAME_PATTERN, type WriteRequest, type WriteResult } from '../driver.js'
import { sendCancelRequest } from './postgres-cancel.js'
import { cancelled, describeError, mapPostgresError } from './postgres-errors.js'
import { Lease, within } from './postgres-lease.js'
import type { TypeCache } from './postgres-types.js'
import { WriteQuery, type WriteOutcome } from './postgres-write-query.js'

export interface PostgresWriteDeps {
  readonly pool: Pool
  readonly logger: Logger
  readonly types: TypeCache
  /** The source's search_path, already quoted as identifiers (as the read path sends it). */
  readonly searchPath: string
  readonly lockTimeoutMs: number
  readonly cancel: 'protocol' | 'none'
  isClosing(): boolean
  /** Keeps cleanup work alive until the driver closes (the read path's tracker). */
  track(work: Promise<void>): void
}

/** As for reads: the client-side deadline is only a backstop behind statement_timeout. */
const DEADLINE_GRACE_MS = 2_000
const CANCEL_WAIT_MS = 2_000
const IDLE_IN_TRANSACTION_MS = 10_000

function positiveMs(ms: number): number {
  return Number.isFinite(ms) && ms >= 1 ? Math.floor(ms) : 1
}

function claimsJson(claims: Readonly<Record<string, string>> | undefined): string | null {
  const safe: Record<string, string> = {}
  for (const [name, value] of Object.entries(claims ?? {})) {
    if (!CLAIM_NAME_PATTERN.test(name) || typeof value !== 'string') return null
    safe[name] = value
  }
  return JSON.stringify(safe)
}

export function createPostgresWrite(deps: PostgresWriteDeps): (request: WriteRequest) => Promise<Result<WriteResult>> {
  const { logger } = deps
  const lockTimeout = String(positiveMs(deps.lockTimeoutMs))

  return async function write(request: WriteRequest): Promise<Result<WriteResult>> {
    if (deps.isClosing()) return fail('ERR_SOURCE_UNAVAILABLE', { subject: 'driver_closed' })
    if (request.sql.includes('\0')) return fail('ERR_EXEC_INVALID_INPUT', { subject: 'nul_character' })
    const { limits, signal } = request
    const claims = claimsJson(limits.identity?.claims)
    if (claims === null) return fail('ERR_INTERNAL', { subject: 'invalid_claim_name' })
    const timeoutMs = positiveMs(limits.statementTimeoutMs)
    if (signal?.aborted === true) return cancelled({ cancelledBy: 'abort' })

    let timer: NodeJS.Timeout | undefined
    let onAbort: (() => void) | undefined
    const stop = new Promise<'abort' | 'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), timeoutMs + DEADLINE_GRACE_MS)
      if (signal !== undefined) {
        onAbort = () => resolve('abort')
        signal.addEventListener('abort', onAbort, { once: true })
      }
    })
    try {
      const checkout = deps.pool.connect()
      const first = await Promise.race([
        checkout.then(
          (client) => ({ client }),
          (error: unknown) => ({ error }),
        ),
        stop,
      ])
      if (typeof first === 'string') {
        checkout.then((client) => client.release(), () => undefined)
        return cancelled({ cancelledBy: first, statementTimeoutMs: timeoutMs })
      }
      if ('error' in first) {
        logger.warn({ err: describeError(first.error) }, 'postgres connect failed')
        return mapPostgresError(first.error, { cancelledBy: null, connecting: true })
      }
      const lease = new Lease(first.client, logger)
      const query = new WriteQuery({
        sql: request.sql,
        params: request.params,
        statementClass: request.statementClass,
        settings: [
          String(timeoutMs),
          lockTimeout,
          String(IDLE_IN_TRANSACTION_MS),
          deps.searchPath,
          limits.identity?.dbRole ?? null,
          limits.identity?.principal ?? '',
          claims,
        ],
        maxRows: Math.max(0, Math.floor(limits.maxRows)),
        maxBytes: Math.max(0, Math.floor(limits.maxBytes)),
        types: deps.types,
      })
      first.client.query(query)
      let outcome: WriteOutcome | 'abort' | 'deadline' = await Promise.race([query.result, stop])
      if (typeof outcome === 'string') {
        const reason = outcome
        query.stop()
        if (deps.cancel === 'protocol') void sendCancelRequest(first.client).catch(() => undefined)
        // The truth, if it comes in time: once COMMIT was written the write may have happened.
        const late = await within(query.result, CANCEL_WAIT_MS)
        deps.track(lease.abandon(query, CANCEL_WAIT_MS))
        if (typeof late === 'object' && 'ok' in late && late.ok) {
          outcome = late
        } else {
          if (query.commitSent) return fail('ERR_EXEC_CANCELLED', { subject: 'write_outcome_unknown' })
          return cancelled({ cancelledBy: reason, statementTimeoutMs: timeoutMs })
        }
      } else {
        deps.track(lease.settle(query))
      }
      if (outcome.ok) {
        const returning = outcome.returning
        return ok({
          rowCount: outcome.rowCount,
          returning:
            returning === null
              ? null
              : {
                  columns: returning.columns,
                  rows: returning.rows,
                  rowCount: returning.rows.length,
                  truncated: returning.truncatedBy !== null,
                  truncatedBy: returning.truncatedBy,
                  bytes: returning.bytes,
                },
        })
      }
      if (outcome.unexpected !== undefined) {
        logger.warn({ subject: outcome.unexpected }, 'postgres write refused and rolled back: unexpected reply')
        return fail('ERR_EXEC_QUERY_FAILED', { subject: outcome.unexpected, cause: outcome.error })
      }
      const failure = mapPostgresError(outcome.error, { cancelledBy: null, statementTimeoutMs: timeoutMs })
      logger.info({ err: describeError(outcome.error), code: failure.code }, 'postgres write failed')
      return failure
    } finally {
      clearTimeout(timer)
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
    }
  }
}
