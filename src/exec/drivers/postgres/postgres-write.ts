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
import type { WriteRequest, WriteResult } from '../driver.js'
import { CANCEL_WAIT_MS, callCaps, callSettings, outcomeFailure, positiveMs, withLeasedCall, type StopReason } from './postgres-call.js'
import { sendCancelRequest } from './postgres-cancel.js'
import { cancelled } from './postgres-errors.js'
import { within } from './postgres-lease.js'
import { readResult } from './postgres-row-collector.js'
import type { TypeCache } from './postgres-types.js'
import type { SessionIdentity } from './postgres-session-identity.js'
import { WriteQuery, type WriteOutcome } from './postgres-write-query.js'

export interface PostgresWriteDeps {
  readonly pool: Pool
  readonly logger: Logger
  /** The read path's session marks (postgres-session-identity.ts); null on PGlite. */
  readonly sessions: SessionIdentity | null
  readonly types: TypeCache
  /** The source's search_path, already quoted as identifiers (as the read path sends it). */
  readonly searchPath: string
  readonly lockTimeoutMs: number
  readonly cancel: 'protocol' | 'none'
  isClosing(): boolean
  /** Keeps cleanup work alive until the driver closes (the read path's tracker). */
  track(work: Promise<void>): void
}

export function createPostgresWrite(deps: PostgresWriteDeps): (request: WriteRequest) => Promise<Result<WriteResult>> {
  const { logger } = deps
  const lockTimeout = String(positiveMs(deps.lockTimeoutMs))

  return function write(request: WriteRequest): Promise<Result<WriteResult>> {
    const { limits, signal } = request
    return withLeasedCall(deps, request.sql, limits, signal, async ({ client, lease, stop, timeoutMs, claims, mark, session }) => {
      const query = new WriteQuery({
        sql: request.sql,
        params: request.params,
        statementClass: request.statementClass,
        settings: callSettings(timeoutMs, lockTimeout, deps.searchPath, limits, { claims, mark }),
        ...callCaps(limits),
        types: deps.types,
        session,
      })
      client.query(query)
      let outcome: WriteOutcome | StopReason = await Promise.race([query.result, stop])
      if (typeof outcome === 'string') {
        const reason = outcome
        query.stop()
        if (deps.cancel === 'protocol') void sendCancelRequest(client).catch(() => undefined)
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
        return ok({ rowCount: outcome.rowCount, returning: returning === null ? null : readResult(returning) })
      }
      return outcomeFailure(logger, outcome, timeoutMs, {
        refused: 'postgres write refused and rolled back: unexpected reply',
        failed: 'postgres write failed',
      })
    })
  }
}
