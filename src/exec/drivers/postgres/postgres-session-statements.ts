/**
 * Which connections have sqlwarden's fixed statements (BEGIN READ ONLY, the settings with and without claims, ROLLBACK,
 * the leak check) parsed under their STATEMENT_NAMES, so a call binds and executes them instead of
 * parsing and planning them again (about 60% of the server's CPU for a point lookup).
 *
 * A connection is marked only after a batch that parsed the statements reached ReadyForQuery
 * without an error, which proves every Parse succeeded. Until then each batch first closes the
 * names (Close of a missing statement is not an error) and parses them again, so a half-prepared
 * session never makes a call fail. Any error on a connection clears its mark, so a session that
 * lost the statements costs at most one failed call. Keyed weakly: a destroyed connection takes
 * its mark with it.
 *
 * The same for the caller's reads: each session keeps its USER_STATEMENT_NAMES.length most recently
 * used read statements parsed, by exact text, so a repeated statement (the usual agent pattern: the
 * same lookup with other parameters) is bound instead of parsed and planned (about 80 µs of the
 * server's CPU for a point lookup). What this does not change: the text was analysed in this very
 * call, it travels alone in its own Parse, and PostgreSQL checks privileges and row-level security
 * as the call's role at every execution and re-plans a cached statement when the search path, the
 * role (for row security) or a referenced object changes. A slot is always closed before it is
 * parsed again, so a slot the server lost or never parsed is at worst one failed call (and that
 * failure makes the session forget every slot). Statements longer than USER_STATEMENT_MAX_CHARS are
 * not kept, which bounds the memory per session.
 */
import { BEGIN_SQL, LEAK_CHECK_SQL, ROLLBACK_SQL, SETTINGS_BARE_SQL, SETTINGS_SQL, STATEMENT_NAMES, USER_STATEMENT_NAMES } from './postgres-read-sql.js'

export type FixedStatement = keyof typeof STATEMENT_NAMES

export const FIXED_SQL: Readonly<Record<FixedStatement, string>> = {
  begin: BEGIN_SQL,
  settings: SETTINGS_SQL,
  settingsBare: SETTINGS_BARE_SQL,
  rollback: ROLLBACK_SQL,
  check: LEAK_CHECK_SQL,
}

export class SessionStatements {
  readonly #ready = new WeakSet<object>()
  readonly #user = new WeakMap<object, UserSlots>()

  has(connection: object): boolean {
    return this.#ready.has(connection)
  }

  add(connection: object): void {
    this.#ready.add(connection)
  }

  /** After any error on the connection: parse again next time rather than trust the session. */
  delete(connection: object): void {
    this.#ready.delete(connection)
    this.#user.delete(connection)
  }

  /**
   * The slot for a read's statement on this connection, or null when it is not kept (too long).
   * Recorded at once: if the batch fails, delete() forgets every slot of the connection.
   */
  userStatement(connection: object, sql: string): UserStatementSlot | null {
    if (sql.length > USER_STATEMENT_MAX_CHARS) return null
    let slots = this.#user.get(connection)
    if (slots === undefined) this.#user.set(connection, (slots = new UserSlots()))
    return slots.take(sql)
  }
}

/** The longest statement text a session keeps parsed. */
export const USER_STATEMENT_MAX_CHARS = 16_384

/** How a read's statement goes on the wire: bound by name (parsed first when `parse`), or unnamed. */
export interface UserStatementSlot {
  readonly name: string
  /** Close and Parse the slot in this batch (the text is new to the session). */
  readonly parse: boolean
}

/** One session's kept read statements: text → slot, in least-recently-used order. */
class UserSlots {
  readonly bySql = new Map<string, number>()
  next = 0

  take(sql: string): UserStatementSlot {
    const held = this.bySql.get(sql)
    if (held !== undefined) {
      // Most recently used last.
      this.bySql.delete(sql)
      this.bySql.set(sql, held)
      return { name: slotName(held), parse: false }
    }
    let slot: number
    if (this.next < USER_STATEMENT_NAMES.length) slot = this.next++
    else {
      const oldest = this.bySql.entries().next().value as [string, number]
      this.bySql.delete(oldest[0])
      slot = oldest[1]
    }
    this.bySql.set(sql, slot)
    return { name: slotName(slot), parse: true }
  }
}

function slotName(slot: number): string {
  const name = USER_STATEMENT_NAMES[slot]
  if (name === undefined) throw new Error('unreachable: no such statement slot')
  return name
}
