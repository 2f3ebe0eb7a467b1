/**
 * One checked-out pooled client, from checkout to release. The rule it enforces (I7): a client
 * goes back to the pool only when the server has said the session is idle (`I`) after our
 * ROLLBACK and the leak check found nothing; in every other case it is destroyed.
 */
import type { PoolClient } from 'pg'
import type { Logger } from '../../../log/logger.js'
import { describeError } from './postgres-errors.js'
import type { PortalQuery, PortalSettled } from './postgres-portal-query.js'
import { LEAK_CHECK_SQL } from './postgres-read-sql.js'

/** Longest wait for ROLLBACK and the leak check before the client is destroyed instead. */
const CLEANUP_TIMEOUT_MS = 5_000

/** Simple protocol on purpose: our own two statements, after an error left the block aborted. */
const ROLLBACK_AND_CHECK_SQL = `ROLLBACK; ${LEAK_CHECK_SQL}`

const TIMED_OUT = Symbol('timed out')

/** Resolves with the promise's value, or TIMED_OUT. Never rejects; a late rejection is swallowed. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT | { error: unknown }> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(TIMED_OUT), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        resolve({ error })
      },
    )
  })
}

/** A query as the Lease waits for it: the promise, and its value once known. */
type Settling = Pick<PortalQuery, 'settled' | 'settledNow'>

/**
 * The query's settled state: at once when it is already known (no cleanup timer for the usual
 * call, whose ReadyForQuery came in the same packet as its rows), else within `ms`.
 */
function settledWithin(query: Settling, ms: number): PortalSettled | ReturnType<typeof within<PortalSettled>> {
  return query.settledNow ?? within(query.settled, ms)
}

interface StatusClient {
  getTransactionStatus(): string | null
}

export class Lease {
  readonly client: PoolClient
  readonly #logger: Logger
  #broken = false
  #released = false
  readonly #onError: (error: unknown) => void

  constructor(client: PoolClient, logger: Logger) {
    this.client = client
    this.#logger = logger
    // Without a listener, an 'error' on a checked-out client (backend killed, socket reset) would
    // be thrown by the EventEmitter and crash the process.
    this.#onError = (error) => {
      this.#broken = true
      this.#logger.warn({ err: describeError(error) }, 'postgres connection error')
    }
    client.on('error', this.#onError)
  }

  /** Waits for the query to let go of the connection, rolls back if needed, releases or destroys. */
  async settle(query: Settling): Promise<void> {
    const unfit = await this.#unfitness(query)
    if (unfit === null) this.release()
    else this.destroy(unfit)
  }

  /**
   * Waits for a finished query (rolling its transaction back and checking the session if a server
   * error left it open) and keeps the client for another query of the same call when it is then
   * provably clean and idle; otherwise destroys it. Returns whether it may be reused.
   */
  async reuseAfter(query: Settling): Promise<boolean> {
    const unfit = await this.#unfitness(query)
    if (unfit === null) return true
    this.destroy(unfit)
    return false
  }

  /**
   * Why the client may not be used again once `query` lets go of it, or null when it may: the
   * query settled in time, its transaction ended (rolled back here after a server error), the leak
   * check found nothing, no error came on the connection, and the server says the session is idle.
   */
  async #unfitness(query: Settling): Promise<string | null> {
    const settled = await settledWithin(query, CLEANUP_TIMEOUT_MS)
    if (settled === TIMED_OUT || 'error' in settled) return 'cleanup_timeout'
    let clean = settled.clean
    if (settled.needsRollback && !this.#broken) clean = await this.#rollbackAndCheck()
    if (settled.leaked > 0) this.#logger.warn({ leaked: settled.leaked }, 'postgres read left session state; destroying connection')
    if (!clean || this.#broken) return 'not_clean'
    const status = (this.client as unknown as StatusClient).getTransactionStatus()
    return status === 'I' ? null : `transaction_status_${status ?? 'unknown'}`
  }

  /** After an abort: the statement was cancelled (or not); the connection is not reused either way. */
  async abandon(query: Pick<PortalQuery, 'settled'>, waitMs: number): Promise<void> {
    await within(query.settled, waitMs)
    this.destroy('cancelled')
  }

  release(): void {
    if (this.#released) return
    this.#released = true
    this.client.removeListener('error', this.#onError)
    this.client.release()
  }

  destroy(reason: string): void {
    if (this.#released) return
    this.#released = true
    this.#logger.debug({ reason }, 'postgres connection destroyed')
    this.client.removeListener('error', this.#onError)
    // pg-pool ends a client released with an error; with a query still active that destroys the socket.
    this.client.release(true)
  }

  async #rollbackAndCheck(): Promise<boolean> {
    const outcome = await within(this.client.query({ text: ROLLBACK_AND_CHECK_SQL, rowMode: 'array' }), CLEANUP_TIMEOUT_MS)
    if (outcome === TIMED_OUT || 'error' in outcome) return false
    const results = outcome as unknown as { rows: unknown[][] }[]
    const check = Array.isArray(results) ? results[1]?.rows[0] : undefined
    if (check === undefined) return false
    const leaked = check.reduce<number>((sum, value) => sum + Number(value), 0)
    if (leaked > 0) this.#logger.warn({ leaked }, 'postgres read left session state; destroying connection')
    return leaked === 0
  }
}
