/**
 * What a read (PortalQuery) and a write (WriteQuery) do alike on the wire, as one pg Submittable
 * base: the statement alone in its own Parse, the replies a statement must not produce (an empty
 * query, COPY), the DataRow state machine (settings, the caller's rows, the type lookup, the leak
 * check), and how the batch ends: at an ErrorResponse (Sync unless one is already on its way; pg
 * then forgets the query) or at ReadyForQuery, where `settled` says whether the connection may be
 * reused (Lease, postgres-lease.ts).
 *
 * The subclass decides what differs: the batch it writes (submit), what a suspended portal and a
 * CommandComplete mean, how it ends the transaction after the statement (statementDone), and the
 * outcome it reports. pg reads `name`, `text`, `rows`, `binary` and `callback` off a Submittable:
 * no member here or in a subclass may take one of those names.
 */
import type { Connection } from 'pg'
import type { SqlParam } from '../driver.js'
import { sqlState } from './postgres-errors.js'
import { SESSION_MISMATCH_SQLSTATE, SETTINGS_SESSION_COLUMN } from './postgres-read-sql.js'
import type { SessionCheck } from './postgres-session-identity.js'
import { RowCollector, type FieldDescription } from './postgres-row-collector.js'
import type { UserStatementSlot } from './postgres-session-statements.js'
import { TYPE_LOOKUP_SQL, type TypeCache } from './postgres-types.js'

/** The parts of pg's Connection the queries write to (pg's typings lag behind its code). */
export interface WireConnection {
  readonly stream: { cork?: () => void; uncork?: () => void }
  parse(msg: { text: string; name?: string }): void
  bind(msg: { values?: (string | null)[]; statement?: string }): void
  close(msg: { type: 'S'; name: string }): void
  describe(msg: { type: 'P' }): void
  execute(msg: { rows?: number }): void
  flush(): void
  sync(): void
  sendCopyFail(message: string): void
}

/**
 * Where the batch is: the replies still expected, in order. `rollback` ends a read, `end` a write
 * (COMMIT or ROLLBACK); `check` is the leak check after either.
 */
export type Step = 'begin' | 'settings' | 'user' | 'types' | 'rollback' | 'end' | 'check'

export interface PortalSettled {
  /** The transaction ended as planned, the leak check found nothing and nothing unexpected happened. */
  readonly clean: boolean
  /** A server error cut the batch short; the driver must roll back and re-check. */
  readonly needsRollback: boolean
  readonly leaked: number
}

export interface WireQueryConfig {
  readonly maxRows: number
  readonly maxBytes: number
  readonly types: TypeCache
  /** The connection's session mark, checked at the settings row; null where sessions are shared by design (PGlite). */
  readonly session: SessionCheck | null
}

/** What the subclass reports for an ErrorResponse or a dead connection. */
export interface WireFailure<Outcome> {
  readonly outcome: Outcome
  /** The transaction may still be open (and aborted): with a server error, roll back and check. */
  readonly mayNeedRollback: boolean
}

/** Bound as text; pg's own conversion would differ for booleans (`t`/`f` vs `true`/`false`). */
export function wireValue(value: SqlParam): string | null {
  if (value === null) return null
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  return String(value)
}

export abstract class WireQuery<Outcome> {
  /** The caller's outcome, as soon as it is final. */
  readonly result: Promise<Outcome>
  /** The connection's state once this query is finished with it. */
  readonly settled: Promise<PortalSettled>
  /** `settled`'s value once it is known (the usual case by the time the caller has its rows). */
  settledNow: PortalSettled | null = null

  /** The statement's rows under the row and byte caps (never named `rows`: pg reads that). */
  protected readonly collector: RowCollector
  protected steps: Step[] = ['begin', 'settings', 'user']
  /** Sync is written (or on its way): an error must not send another. */
  protected finishing = false

  readonly #types: TypeCache
  readonly #session: SessionCheck | null
  readonly #copyFailMessage: string
  #con: WireConnection | null = null
  #resolveResult!: (outcome: Outcome) => void
  #resolveSettled!: (settled: PortalSettled) => void
  #resultSent = false
  #done = false
  #stopping = false
  #described = false
  #unexpected: string | null = null
  #leaked = 0
  #sessionRefused = false

  constructor(config: WireQueryConfig, copyFailMessage: string) {
    this.#types = config.types
    this.#session = config.session
    this.#copyFailMessage = copyFailMessage
    this.collector = new RowCollector(config.maxRows, config.maxBytes, config.types)
    this.result = new Promise((resolve) => (this.#resolveResult = resolve))
    this.settled = new Promise((resolve) => {
      this.#resolveSettled = (settled) => {
        this.settledNow ??= settled
        resolve(settled)
      }
    })
  }

  /** Stop: the caller is gone and the connection will be destroyed. */
  stop(): void {
    this.#stopping = true
  }

  handleRowDescription(msg: { fields: readonly FieldDescription[] }): void {
    if (this.steps[0] !== 'user') return this.markUnexpected('unexpected_message')
    this.#described = true
    this.collector.describe(msg.fields)
  }

  handleDataRow(msg: { fields: (string | null)[] }): void {
    switch (this.steps[0]) {
      case 'settings':
        // Before any row of the statement: a batch in a session that is not the connection's own
        // gets none of them through (the result is refused, the connection destroyed, the source refused).
        if (this.#session !== null && !this.#session(msg.fields[SETTINGS_SESSION_COLUMN])) this.markUnexpected('session_shared')
        return
      case 'user':
        return this.userRow(msg.fields)
      case 'types':
        return this.#types.addLookupRow(msg.fields)
      case 'check':
        this.#leaked = msg.fields.reduce((sum, f) => sum + Number(f ?? 0), 0)
        return
      default:
        return this.markUnexpected('unexpected_message')
    }
  }

  handleCommandComplete(msg: { text: string }): void {
    const step = this.steps.shift()
    if (step === undefined) return this.markUnexpected('unexpected_message')
    this.commandComplete(step, msg.text)
  }

  handleEmptyQuery(): void {
    if (this.steps[0] !== 'user') return this.markUnexpected('unexpected_message')
    this.steps.shift()
    this.markUnexpected('empty_query')
    this.statementDone()
  }

  handleCopyInResponse(connection: Connection): void {
    this.markUnexpected('unexpected_command')
    ;(connection as unknown as WireConnection).sendCopyFail(this.#copyFailMessage)
  }

  handleCopyData(): void {
    this.markUnexpected('unexpected_command')
  }

  /** A server ErrorResponse (pg then forgets this query) or a dead connection. */
  handleError(error: unknown): void {
    if (this.#done) return
    this.#done = true
    if (this.steps[0] === 'settings' && this.#session !== null && sqlState(error) === SESSION_MISMATCH_SQLSTATE) {
      // The server found another mark (or none) in this session and refused the batch before the
      // caller's statement. Refused whatever the driver's own check says; given nothing to match,
      // that check proves the shared session (and the source is refused from then on).
      this.#sessionRefused = true
      this.#session(null)
    }
    const failure = this.failed(error, this.steps[0])
    // The server skips everything until Sync; before the end of the batch we have not sent one yet.
    if (!this.finishing) this.#con?.sync()
    this.#emit(failure.outcome)
    const serverError = typeof error === 'object' && error !== null && 'severity' in error
    this.#resolveSettled({ clean: false, needsRollback: serverError && failure.mayNeedRollback && !this.#stopping, leaked: 0 })
  }

  handleReadyForQuery(): void {
    if (this.#done) return
    this.#done = true
    const complete = this.finishing && this.steps.length === 0 && !this.#stopping
    this.ready()
    const clean = complete && this.#leaked === 0 && this.#unexpected === null
    this.#resolveSettled({ clean, needsRollback: false, leaked: this.#leaked })
  }

  /** One of the caller's rows arrived. */
  protected abstract userRow(fields: (string | null)[]): void
  /** A CommandComplete for `step` (already taken off the steps). */
  protected abstract commandComplete(step: Step, tag: string): void
  /** The statement is over (or must not go on): end the transaction. */
  protected abstract statementDone(): void
  /** Before Sync: what to report for an ErrorResponse (or a dead connection) during `step`. */
  protected abstract failed(error: unknown, step: Step | undefined): WireFailure<Outcome>
  /** ReadyForQuery without an error: report the final outcome if it is not out yet. */
  protected abstract ready(): void

  protected get connection(): WireConnection | null {
    return this.#con
  }

  protected get stopping(): boolean {
    return this.#stopping
  }

  /** ReadyForQuery or an error has ended the batch. */
  protected get done(): boolean {
    return this.#done
  }

  protected get resultSent(): boolean {
    return this.#resultSent
  }

  /**
   * What a failed outcome adds when the batch ran in a session that is not the connection's own
   * and the server refused it at the settings statement: `unexpected: 'session_shared'`.
   */
  protected get sessionRefusal(): { readonly unexpected?: 'session_shared' } {
    return this.#sessionRefused ? { unexpected: 'session_shared' } : {}
  }

  /** A RowDescription arrived for the statement (it returns rows). */
  protected get described(): boolean {
    return this.#described
  }

  /** The first reply the statement must not produce, or null. */
  protected get unexpected(): string | null {
    return this.#unexpected
  }

  /** submit(): from here the connection is this query's until ReadyForQuery. */
  protected attach(connection: Connection): WireConnection {
    const con = connection as unknown as WireConnection
    this.#con = con
    return con
  }

  /**
   * The statement, alone in its own Parse, bound to the unnamed portal; Execute is the caller's.
   * Unnamed, or in one of the session's kept slots (postgres-session-statements.ts): then the slot
   * is closed and parsed again only when the text is new to the session, else just bound.
   */
  protected writeStatement(con: WireConnection, sql: string, params: readonly SqlParam[], slot: UserStatementSlot | null = null): void {
    if (slot === null) con.parse({ text: sql })
    else if (slot.parse) {
      con.close({ type: 'S', name: slot.name })
      con.parse({ name: slot.name, text: sql })
    }
    con.bind({ ...(slot === null ? {} : { statement: slot.name }), values: params.map(wireValue) })
    con.describe({ type: 'P' })
  }

  /** Names the types of the statement's columns that the cache does not know, inside the transaction. */
  protected writeTypeLookup(con: WireConnection, unknown: readonly number[]): void {
    this.steps.push('types')
    con.parse({ text: TYPE_LOOKUP_SQL })
    con.bind({ values: [`{${unknown.join(',')}}`] })
    con.execute({})
  }

  /** One batch in one socket write. */
  protected corked(write: () => void): void {
    const stream = this.#con?.stream
    stream?.cork?.()
    try {
      write()
    } finally {
      stream?.uncork?.()
    }
  }

  protected emit(outcome: Outcome): void {
    this.#emit(outcome)
  }

  protected markUnexpected(subject: string): void {
    this.#unexpected ??= subject
  }

  #emit(outcome: Outcome): void {
    if (this.#resultSent) return
    this.#resultSent = true
    this.#resolveResult(outcome)
  }
}
