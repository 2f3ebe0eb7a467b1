/**
 * One read as one pg Submittable, so the critical path is a single round trip (DESIGN §2 step 9).
 *
 * submit() writes, in one corked batch:
 *   Bind/Execute        BEGIN READ ONLY                            (named statements, parsed once
 *   Bind/Execute        SELECT set_config(… , true) × 11 (+ claims)  per session: session-statements)
 *   Parse/Bind/Describe/Execute(rows = first chunk)  <the statement>   (unnamed statement + portal)
 *   Flush
 * The statement travels alone in its own Parse message, so the engine refuses a second statement
 * even if analysis were wrong. More rows are fetched with Execute(portal, n) + Flush until the row
 * cap + 1, the byte cap or the end of the portal. Then, without waiting, the caller gets its rows
 * and the batch `ROLLBACK` + leak check + Sync goes out (off the critical path). In speculative mode
 * (the usual one) that batch is written with the statement instead, and the caller's rows arrive
 * in the same packet as ReadyForQuery.
 *
 * Why Flush and not Sync between rounds: pg's Client hands a query exactly one ReadyForQuery, and
 * PostgreSQL disarms statement_timeout at every Sync (finish_xact_command). With Flush the timer
 * armed at the statement's Parse keeps running across all Execute rounds, so the server bounds the
 * whole statement, not each chunk. The timer does arm for the statement: start_xact_command() runs
 * enable_statement_timeout() at each Parse/Bind/Execute, exec_execute_message() disarms it when an
 * Execute completes, and the next message re-arms it with the current value, which the pipelined
 * set_config(…, true) has just set (PostgreSQL ≥ 11; test/integration/postgres/timeout-cancel).
 */
import type { Connection } from 'pg'
import type { SqlParam } from '../driver.js'
import { NO_CLAIMS, SETTINGS_BARE_PARAMS, STATEMENT_NAMES, type SettingsValues } from './postgres-read-sql.js'
import type { PortalRows } from './postgres-row-collector.js'
import type { SessionCheck } from './postgres-session-identity.js'
import { FIXED_SQL, type FixedStatement, type SessionStatements } from './postgres-session-statements.js'
import type { TypeCache } from './postgres-types.js'
import { WireQuery, type Step, type WireConnection, type WireFailure } from './postgres-wire-query.js'

export type { PortalRows } from './postgres-row-collector.js'
export type { PortalSettled } from './postgres-wire-query.js'

/** Command tags a read may end with. Anything else means analysis let through a non-read. */
const READ_TAG = /^(SELECT|SHOW|EXPLAIN)( |$)/

const FIRST_CHUNK = 100

export interface PortalQueryConfig {
  readonly sql: string
  readonly params: readonly SqlParam[]
  /** statement_timeout, lock_timeout, idle_in_transaction_session_timeout (ms), search_path, role, principal, claims. */
  readonly settings: SettingsValues
  readonly maxRows: number
  readonly maxBytes: number
  readonly types: TypeCache
  /** The connection's session check (postgres-session-identity.ts); null on PGlite. */
  readonly session: SessionCheck | null
  /**
   * One round trip for the whole call: ROLLBACK, the leak check and Sync are written in the same
   * batch as the statement's first Execute. Right when the first chunk holds the whole answer
   * (point lookups, small results, anything capped within it); otherwise the outcome is `rerun`.
   */
  readonly speculative?: boolean
  /**
   * Run the fixed statements as named prepared statements of the session (parsed on the
   * connection's first call). Absent: every statement is parsed each time (the unnamed statement),
   * as a backend shared by several connections (PGlite) needs.
   */
  readonly statements?: SessionStatements
}

export type PortalOutcome =
  | { readonly ok: true; readonly value: PortalRows }
  /**
   * Speculative mode only: the first chunk was not the whole answer (more rows than the chunk,
   * or types to resolve), and the transaction is already rolled back. Run again, not speculatively.
   */
  | { readonly ok: false; readonly rerun: true }
  /** `unexpected`: not a server error but a reply a read must not produce (a subject name). */
  | { readonly ok: false; readonly error: unknown; readonly unexpected?: string }

export class PortalQuery extends WireQuery<PortalOutcome> {
  readonly #config: PortalQueryConfig
  #awaitingTypes = false
  #rounds = 0
  #requested = 0
  #lastChunk = FIRST_CHUNK
  /** This batch parses the named fixed statements; on a clean ReadyForQuery the session has them. */
  #parsesNamed = false
  /** The statement was bound from a slot the session already held (not parsed in this batch). */
  #boundKept = false

  constructor(config: PortalQueryConfig) {
    super(config, 'COPY FROM STDIN is not accepted')
    this.#config = config
  }

  /** Execute messages sent for the statement's portal (for tests and debug logs). */
  get rounds(): number {
    return this.#rounds
  }

  /**
   * The statement was bound from the session's kept statements, not parsed in this batch. A failure
   * may then be the kept statement's, not the statement's (its result type changed under a schema
   * change, or it was deallocated): the driver runs it once more, parsed afresh.
   */
  get boundKept(): boolean {
    return this.#boundKept
  }

  /** Rows asked for with Execute so far; never more than the row cap + 1. */
  get requestedRows(): number {
    return this.#requested
  }

  submit(connection: Connection): void {
    const con = this.attach(connection)
    const { sql, params, settings, maxRows } = this.#config
    const named = this.#config.statements
    this.#parsesNamed = named !== undefined && !named.has(connection)
    this.corked(() => {
      if (this.#parsesNamed) {
        for (const [step, name] of Object.entries(STATEMENT_NAMES) as [FixedStatement, string][]) {
          con.close({ type: 'S', name })
          con.parse({ name, text: FIXED_SQL[step] })
        }
      }
      this.#fixed(con, 'begin')
      // A call without claims runs the settings without the claims subquery (same settings).
      if (settings[SETTINGS_BARE_PARAMS] === NO_CLAIMS) this.#fixed(con, 'settingsBare', settings.slice(0, SETTINGS_BARE_PARAMS))
      else this.#fixed(con, 'settings', [...settings])
      // Kept or not, the statement is alone in its own Parse (a named statement takes one statement
      // too), parsed after the settings, so under the call's search path and role.
      const slot = named?.userStatement(connection, sql) ?? null
      this.#boundKept = slot !== null && !slot.parse
      this.writeStatement(con, sql, params, slot)
      this.#execute(Math.min(maxRows + 1, FIRST_CHUNK))
      if (this.#config.speculative === true) {
        // Sync is on its way: an error must not send another, and #finish has nothing to write.
        this.finishing = true
        this.steps.push('rollback', 'check')
        // No Flush before ROLLBACK: the server then sends the rows, ROLLBACK's and the leak check's
        // replies and ReadyForQuery in one packet. Flushing the rows first saved the few tens of
        // microseconds ROLLBACK and the check take, but cost both processes a wake-up, a write and a
        // read per call: measured, the single packet is faster (p50 402-453 µs vs 454-505 µs for
        // driver.read of a point lookup) and cheaper (server 0.29-0.32 vs 0.34-0.40 ms CPU per call;
        // backend 35-60 µs less).
        this.#writeRollbackAndCheck(con)
      } else {
        con.flush()
      }
    })
  }

  handlePortalSuspended(): void {
    if (this.steps[0] !== 'user') return this.markUnexpected('unexpected_message')
    const limit = this.#config.maxRows + 1
    if (this.#config.speculative === true) {
      // ROLLBACK (already sent) closes the suspended portal.
      this.steps.shift()
      const enough = this.collector.done || this.collector.received >= limit
      return enough ? this.#speculativeResult() : this.emit({ ok: false, rerun: true })
    }
    const enough = this.collector.done || this.collector.received >= limit || this.#requested >= limit
    if (this.stopping || enough || this.unexpected !== null) return this.#finish()
    this.#lastChunk = this.collector.nextChunk(limit - this.#requested, this.#lastChunk)
    this.#execute(this.#lastChunk)
    this.connection?.flush()
  }

  protected userRow(fields: (string | null)[]): void {
    // Final early (a cap was hit): the caller gets its rows now, unless types are pending.
    if (this.collector.add(fields) && this.collector.unknownOids().length === 0) this.#sendResult()
  }

  protected commandComplete(step: Step, tag: string): void {
    if (step === 'user') {
      if (!READ_TAG.test(tag)) this.markUnexpected('unexpected_command')
      if (this.#config.speculative === true) return this.#speculativeResult()
      this.#finish()
    } else if (step === 'types') {
      this.#awaitingTypes = false
      this.collector.retype()
      this.#sendResult()
    }
  }

  protected statementDone(): void {
    this.#finish()
  }

  protected failed(error: unknown, step: Step | undefined): WireFailure<PortalOutcome> {
    // Whatever failed, the next call on this connection parses the fixed statements again rather
    // than trust a session that may have lost them.
    const con = this.connection
    if (con !== null) this.#config.statements?.delete(con)
    const beforeRollback = step === 'begin' || step === 'settings' || step === 'user' || step === 'types'
    return { outcome: { ok: false, error, ...this.sessionRefusal }, mayNeedRollback: beforeRollback }
  }

  protected ready(): void {
    if (!this.resultSent) this.emit({ ok: false, error: new Error('read ended early'), unexpected: 'protocol' })
    // No ErrorResponse in the batch: every Parse of the named statements succeeded.
    const con = this.connection
    if (this.#parsesNamed && con !== null) this.#config.statements?.add(con)
  }

  #execute(rows: number): void {
    this.#rounds += 1
    this.#requested += rows
    this.connection?.execute({ rows })
  }

  /** The statement is done (or capped): type lookup if needed, ROLLBACK, leak check, Sync. */
  #finish(): void {
    const con = this.connection
    if (con === null || this.finishing) return
    this.finishing = true
    // A suspended portal never sends CommandComplete; ROLLBACK closes it.
    if (this.steps[0] === 'user') this.steps.shift()
    if (this.stopping) {
      this.steps = []
      con.sync()
      return
    }
    const unknown = this.collector.unknownOids()
    this.#awaitingTypes = unknown.length > 0
    if (this.#awaitingTypes) this.#writeFinish(con, unknown)
    else {
      // The caller's rows go out first; the ROLLBACK batch is written on the next turn of the event
      // loop, so its socket write is not on the critical path. The connection stays leased (and in
      // its read-only transaction) until that batch has run, so nothing else can use it meanwhile.
      this.#sendResult()
      setImmediate(() => this.#writeFinish(con, unknown))
    }
  }

  #writeFinish(con: WireConnection, unknown: readonly number[]): void {
    // The connection may have failed (or the caller stopped) between the two turns.
    if (this.done) return
    if (this.stopping) {
      this.steps = []
      con.sync()
      return
    }
    this.corked(() => {
      // Resolved inside the read-only transaction, under its timeouts, before ROLLBACK.
      if (unknown.length > 0) this.writeTypeLookup(con, unknown)
      this.steps.push('rollback', 'check')
      this.#writeRollbackAndCheck(con)
    })
  }

  #writeRollbackAndCheck(con: WireConnection): void {
    this.#fixed(con, 'rollback')
    this.#fixed(con, 'check')
    con.sync()
  }

  /** One of our fixed statements: bound by name when the session keeps it parsed, else parsed now. */
  #fixed(con: WireConnection, statement: FixedStatement, values: (string | null)[] = []): void {
    if (this.#config.statements === undefined) {
      con.parse({ text: FIXED_SQL[statement] })
      con.bind({ values })
    } else {
      con.bind({ statement: STATEMENT_NAMES[statement], values })
    }
    con.execute({})
  }

  /** Speculative mode: the answer is complete unless types are unknown (resolved only in-transaction). */
  #speculativeResult(): void {
    if (this.collector.unknownOids().length > 0) return this.emit({ ok: false, rerun: true })
    this.#sendResult()
  }

  #sendResult(): void {
    if (this.resultSent) return
    if (this.collector.failed) this.markUnexpected('conversion_failed')
    const unexpected = this.unexpected
    if (unexpected !== null) {
      this.emit({ ok: false, error: new Error('unexpected reply'), unexpected })
      return
    }
    this.emit({ ok: true, value: this.collector.result() })
  }
}
