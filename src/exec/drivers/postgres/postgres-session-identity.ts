/**
 * One connection, one session: the check that keeps I7 true behind a pooler.
 *
 * Everything the driver proves about a session (the leak check after ROLLBACK, destroying a
 * connection that kept state, the statements a session keeps parsed under fixed names, D28)
 * assumes that a connection is one PostgreSQL session for its whole life, and nobody else's.
 * Directly, or through a pooler in session mode, it is. A pooler in transaction or statement mode
 * (PgBouncer, Odyssey, a proxy that multiplexes) hands each transaction to whichever server
 * connection is free: a statement kept under a name is then whatever another connection parsed
 * under that name on that backend, perhaps for another principal's call, and destroying a
 * connection leaves its backend, with whatever a call left on it, in the pooler's pool.
 *
 * So each connection marks its session once, before its first call: a random value in the
 * session-level setting `sqlwarden.session`, set in its own (committed) transaction. The settings
 * statement of every call, which comes before the caller's statement in the same batch (one
 * transaction, so one backend even behind a pooler), checks it twice. On the server: it takes the
 * mark as $7 and fails when the session carries another or none, so the rest of the batch, the
 * caller's statement and its Parse, never runs in another connection's session (a check in the
 * driver alone would come too late: a batch has run whole before its rows are read, and its Parse
 * would have changed the other session's kept statements). In the driver: the row returns the
 * session's mark (SETTINGS_SESSION_COLUMN), which must be the connection's own. Either refusal
 * proves that the session was changed or shared: that call gets none of its rows (nothing of a
 * write is committed; the Lease destroys the connection), and from then on the source refuses every call
 * with ERR_SOURCE_MISCONFIGURED, until sqlwarden is restarted against PostgreSQL directly or through
 * a session-mode pooler. A deployment that voids a guarantee is refused, not served (fail closed).
 *
 * Only for a real server: the embedded PGlite backend is one session shared by every connection
 * by design, and its driver keeps nothing in it (transaction-local settings, no named statements).
 * User SQL cannot change the mark: set_config and SET are refused by analysis; a user-defined
 * function allowed by the config that did would make the source refuse, not serve.
 *
 * Marks are kept weakly by the pooled client: a destroyed connection takes its mark with it.
 */
import { randomBytes } from 'node:crypto'
import type { Logger } from '../../../log/logger.js'

const MARK_PATTERN = /^[0-9a-f]{32}$/

/** A new random session mark (16 bytes, hex), for sessionMarkSql(). */
export function newSessionMark(): string {
  return randomBytes(16).toString('hex')
}

/**
 * Sets the connection's mark for the session (not transaction-local), in its own transaction. A
 * plain SET, not set_config(): proxies that track session state and pin a client to its backend
 * when it changes (as cloud database proxies do) recognise a SET, so the mark and everything after
 * it stay on one backend; a pooler that does not pin is then caught by the check. SET takes no
 * parameters: the mark is inlined, and only ever 32 hex digits drawn here (checked again).
 */
export function sessionMarkSql(mark: string): string {
  if (!MARK_PATTERN.test(mark)) throw new Error('unreachable: a session mark is 32 hex digits')
  return `SET sqlwarden.session = '${mark}'`
}

/** Whether one call's settings row carries its connection's mark (the value it read back). */
export type SessionCheck = (seen: unknown) => boolean

export class SessionIdentity {
  readonly #marks = new WeakMap<object, string>()
  readonly #logger: Logger
  #shared = false

  constructor(logger: Logger) {
    this.#logger = logger
  }

  /** A connection's session was seen changed or shared: every later call is refused. */
  get shared(): boolean {
    return this.#shared
  }

  /** The mark a connection's session carries, or null before it was set. */
  markOf(connection: object): string | null {
    return this.#marks.get(connection) ?? null
  }

  /** Records a connection's mark (newSessionMark()) once the server has set it. */
  record(connection: object, mark: string): void {
    this.#marks.set(connection, mark)
  }

  /** The check for one call on `connection`: refuses (and proves) any value but its mark. */
  checkFor(connection: object): SessionCheck {
    const mark = this.#marks.get(connection)
    return (seen) => (mark !== undefined && seen === mark) || this.#prove(mark === undefined ? 'unmarked_connection' : 'session_mark_mismatch')
  }

  #prove(reason: string): false {
    if (!this.#shared) {
      this.#shared = true
      this.#logger.error(
        { reason },
        'postgres connection is not one session of its own: a pooler in transaction or statement mode sits between sqlwarden ' +
          'and PostgreSQL, which voids call isolation (I7). Every call to this source is refused until sqlwarden connects ' +
          'directly or through a session-mode pooler (docs/deployment.md)',
      )
    }
    return false
  }
}
