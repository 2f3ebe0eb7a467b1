/**
 * What a read (postgres-driver.ts) and a write (postgres-write.ts) do alike around their query:
 * the checks made before anything is checked out, the client-side deadline and abort, the
 * checkout raced against them, the Lease, the transaction-local settings bound into SETTINGS_SQL,
 * and how a failed outcome becomes a catalog code.
 */
import type { Pool, PoolClient } from 'pg'
import type { Logger } from '../../../log/logger.js'
import { fail, type Fail, type Result } from '../../../util/result.js'
import { CLAIM_NAME_PATTERN, type CallLimits } from '../driver.js'
import { cancelled, describeError, mapPostgresError } from './postgres-errors.js'
import { Lease } from './postgres-lease.js'
import type { SettingsValues } from './postgres-read-sql.js'
import { newSessionMark, sessionMarkSql, type SessionCheck, type SessionIdentity } from './postgres-session-identity.js'

/** The client-side deadline is the server's statement_timeout plus this, as a backstop only. */
export const DEADLINE_GRACE_MS = 2_000
/** How long an aborted call waits for the server's cancel error before destroying the socket. */
export const CANCEL_WAIT_MS = 2_000
/**
 * idle_in_transaction_session_timeout for the call's transaction. The driver never leaves it idle
 * (the transaction's end is pipelined), so this only ends sessions of a stalled or vanished client.
 */
const IDLE_IN_TRANSACTION_MS = 10_000

export type StopReason = 'abort' | 'deadline'

/** The subject of every refusal once a connection's session was seen shared. */
const SHARED_SESSION = 'pooled_session_shared'

export interface CallDeps {
  readonly pool: Pool
  readonly logger: Logger
  /**
   * Each connection's session mark (postgres-session-identity.ts), or null where every connection
   * shares one session by design (PGlite). Once a session is seen shared, every call is refused.
   */
  readonly sessions: SessionIdentity | null
  isClosing(): boolean
}

/** A checked-out client under the call's deadline, as the body of withLeasedCall sees it. */
export interface LeasedCall {
  readonly client: PoolClient
  /** Releases the client only when it is provably clean (postgres-lease.ts). */
  readonly lease: Lease
  /** Resolves when the caller aborts or the client-side deadline passes, whichever is first. */
  readonly stop: Promise<StopReason>
  /** statement_timeout for the call, never 0 (I6). */
  readonly timeoutMs: number
  /** The identity's claims as the JSON object SETTINGS_SQL reads ($8). */
  readonly claims: string
  /** This connection's session mark, which the settings statement checks on the server ($7; null on PGlite). */
  readonly mark: string | null
  /** The check of this connection's session mark, for the query's settings row (null on PGlite). */
  readonly session: SessionCheck | null
}

/** Timeouts of 0 mean "none" in PostgreSQL; a bounded call never sends 0 (I6). */
export function positiveMs(ms: number): number {
  return Number.isFinite(ms) && ms >= 1 ? Math.floor(ms) : 1
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

interface StopSignal {
  readonly promise: Promise<StopReason>
  dispose(): void
}

function stopSignal(signal: AbortSignal | undefined, deadlineMs: number): StopSignal {
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  const promise = new Promise<StopReason>((resolve) => {
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

/**
 * Checks the call, checks out a client within the call's deadline and runs `body` with it. The
 * body owns the Lease: it settles, abandons or destroys it. The deadline and the abort listener
 * are disposed when the body's promise settles.
 */
export async function withLeasedCall<T>(
  deps: CallDeps,
  sql: string,
  limits: CallLimits,
  signal: AbortSignal | undefined,
  body: (call: LeasedCall) => Promise<Result<T>>,
): Promise<Result<T>> {
  if (deps.isClosing()) return fail('ERR_SOURCE_UNAVAILABLE', { subject: 'driver_closed' })
  // A session was seen shared: a transaction-mode pooler voids I7 (logged once, when proved).
  if (deps.sessions?.shared === true) return fail('ERR_SOURCE_MISCONFIGURED', { subject: SHARED_SESSION })
  // The wire format ends SQL text at NUL: the server would run a prefix analysis never saw.
  if (sql.includes('\0')) return fail('ERR_EXEC_INVALID_INPUT', { subject: 'nul_character' })
  // Names are checked by the config schema already; checked again before anything is checked out.
  const claims = claimsJson(limits.identity?.claims)
  if (claims === null) return fail('ERR_INTERNAL', { subject: 'invalid_claim_name' })
  const timeoutMs = positiveMs(limits.statementTimeoutMs)
  if (signal?.aborted === true) return cancelled({ cancelledBy: 'abort' })
  const stop = stopSignal(signal, timeoutMs + DEADLINE_GRACE_MS)
  try {
    const checkout = deps.pool.connect()
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
      deps.logger.warn({ err: describeError(first.error) }, 'postgres connect failed')
      return mapPostgresError(first.error, { cancelledBy: null, connecting: true })
    }
    const lease = new Lease(first.client, deps.logger)
    const sessions = deps.sessions
    if (sessions !== null && sessions.markOf(first.client) === null) {
      const unmarked = await markSession(sessions, first.client, stop.promise, deps.logger)
      if (unmarked !== null) {
        lease.destroy('session_mark_failed')
        return typeof unmarked === 'string' ? cancelled({ cancelledBy: unmarked, statementTimeoutMs: timeoutMs }) : unmarked
      }
    }
    const mark = sessions === null ? null : sessions.markOf(first.client)
    const session = sessions === null ? null : sessions.checkFor(first.client)
    return await body({ client: first.client, lease, stop: stop.promise, timeoutMs, claims, mark, session })
  } finally {
    stop.dispose()
  }
}

/**
 * A connection's first call marks its session (postgres-session-identity.ts), in a transaction of
 * its own, committed. Null once the mark is set and recorded; else why not (the caller destroys the
 * connection).
 */
async function markSession(sessions: SessionIdentity, client: PoolClient, stop: Promise<StopReason>, logger: Logger): Promise<StopReason | Fail | null> {
  const mark = newSessionMark()
  const set = await Promise.race([
    client.query(sessionMarkSql(mark)).then(
      () => null,
      (error: unknown) => ({ error }),
    ),
    stop,
  ])
  if (set === null) {
    sessions.record(client, mark)
    return null
  }
  if (typeof set === 'string') return set
  logger.warn({ err: describeError(set.error) }, 'postgres session mark failed')
  return mapPostgresError(set.error, { cancelledBy: null, connecting: true })
}

/**
 * SETTINGS_SQL's values for one execution: its statement_timeout, search path, the connection's
 * session mark and the call's identity.
 */
export function callSettings(
  statementTimeoutMs: number,
  lockTimeout: string,
  searchPath: string,
  limits: CallLimits,
  call: Pick<LeasedCall, 'claims' | 'mark'>,
): SettingsValues {
  return [
    String(statementTimeoutMs),
    lockTimeout,
    String(IDLE_IN_TRANSACTION_MS),
    searchPath,
    limits.identity?.dbRole ?? null,
    limits.identity?.principal ?? '',
    call.mark,
    call.claims,
  ]
}

/** The row and byte caps as whole, non-negative numbers. */
export function callCaps(limits: CallLimits): { readonly maxRows: number; readonly maxBytes: number } {
  return { maxRows: Math.max(0, Math.floor(limits.maxRows)), maxBytes: Math.max(0, Math.floor(limits.maxBytes)) }
}

/**
 * A query's failed outcome as a catalog code: a reply the statement must not produce (logged as
 * `refused`), or the server's error, mapped (logged as `failed`). The driver's text stays local.
 */
export function outcomeFailure(
  logger: Logger,
  outcome: { readonly error: unknown; readonly unexpected?: string },
  statementTimeoutMs: number,
  messages: { readonly refused: string; readonly failed: string },
): Fail {
  // The batch ran in a session that is not the connection's own (postgres-session-identity.ts, logged there).
  if (outcome.unexpected === 'session_shared') return fail('ERR_SOURCE_MISCONFIGURED', { subject: SHARED_SESSION })
  if (outcome.unexpected !== undefined) {
    logger.warn({ subject: outcome.unexpected }, messages.refused)
    return fail('ERR_EXEC_QUERY_FAILED', { subject: outcome.unexpected, cause: outcome.error })
  }
  const failure = mapPostgresError(outcome.error, { cancelledBy: null, statementTimeoutMs })
  logger.info({ err: describeError(outcome.error), code: failure.code }, messages.failed)
  return failure
}
