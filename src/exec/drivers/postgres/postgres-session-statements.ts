/**
 * Which connections have sqlwarden's fixed statements (BEGIN READ ONLY, the settings, ROLLBACK,
 * the leak check) parsed under their STATEMENT_NAMES, so a call binds and executes them instead of
 * parsing and planning them again (about 60% of the server's CPU for a point lookup).
 *
 * A connection is marked only after a batch that parsed the statements reached ReadyForQuery
 * without an error, which proves every Parse succeeded. Until then each batch first closes the
 * names (Close of a missing statement is not an error) and parses them again, so a half-prepared
 * session never makes a call fail. Any error on a connection clears its mark, so a session that
 * lost the statements costs at most one failed call. Keyed weakly: a destroyed connection takes
 * its mark with it.
 */
import { BEGIN_SQL, LEAK_CHECK_SQL, ROLLBACK_SQL, SETTINGS_SQL, STATEMENT_NAMES } from './postgres-read-sql.js'

export type FixedStatement = keyof typeof STATEMENT_NAMES

export const FIXED_SQL: Readonly<Record<FixedStatement, string>> = {
  begin: BEGIN_SQL,
  settings: SETTINGS_SQL,
  rollback: ROLLBACK_SQL,
  check: LEAK_CHECK_SQL,
}

export class SessionStatements {
  readonly #ready = new WeakSet<object>()

  has(connection: object): boolean {
    return this.#ready.has(connection)
  }

  add(connection: object): void {
    this.#ready.add(connection)
  }

  /** After any error on the connection: parse again next time rather than trust the session. */
  delete(connection: object): void {
    this.#ready.delete(connection)
  }
}
