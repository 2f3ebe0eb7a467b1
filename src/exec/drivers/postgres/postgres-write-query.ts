/**
 * One write as one pg Submittable (the `execute` tool). Two round trips, on purpose: the command
 * tag is checked before anything is committed.
 *
 *   1. Parse/Bind/Execute  BEGIN READ WRITE          (explicit: never the session's default)
 *      Parse/Bind/Execute  SELECT set_config(…, true) (the read path's SETTINGS_SQL: timeouts,
 *                          search_path, role, principal, claims, standard_conforming_strings)
 *      Parse/Bind/Describe/Execute(all)  <the statement>   (unnamed statement and portal)
 *      Flush
 *   2. When the statement's CommandComplete arrives and its tag is the class analysis found
 *      (`INSERT 0 n`, `UPDATE n`, `DELETE n`): [type lookup for RETURNING columns] COMMIT, the
 *      leak check, Sync. Any other tag (analysis let through something else), an empty query, a
 *      suspended portal, COPY or a value that cannot be converted: ROLLBACK instead, and the call
 *      fails. A server error anywhere: the server skips to Sync, the transaction is aborted, and
 *      the lease rolls back and checks the session before the connection may be reused.
 *
 * The statement travels alone in its own Parse message (the engine refuses a second statement).
 * RETURNING rows go through the read path's RowCollector, so the row and byte caps apply exactly
 * as for a read (rows past a cap are counted, not kept). The outcome is final only at
 * ReadyForQuery: a write is reported as done only once COMMIT has answered.
 */
import type { Connection } from 'pg'
import type { SqlParam } from '../driver.js'
import { LEAK_CHECK_SQL, SETTINGS_SQL, type SettingsValues } from './postgres-read-sql.js'
import type { PortalRows } from './postgres-row-collector.js'
import type { SessionCheck } from './postgres-session-identity.js'
import type { TypeCache } from './postgres-types.js'
import { WireQuery, type Step, type WireFailure } from './postgres-wire-query.js'

/** Explicitly read-write: a role or database default of `default_transaction_read_only` does not decide. */
export const BEGIN_WRITE_SQL = 'BEGIN READ WRITE'
export const COMMIT_SQL = 'COMMIT'
const ROLLBACK_SQL = 'ROLLBACK'

/** The command tag each class must end with; the number is the row count. */
const WRITE_TAGS: Readonly<Record<WriteStatementClass, RegExp>> = {
  insert: /^INSERT 0 (\d+)$/,
  update: /^UPDATE (\d+)$/,
  delete: /^DELETE (\d+)$/,
}

export type WriteStatementClass = 'insert' | 'update' | 'delete'

export interface WriteQueryConfig {
  readonly sql: string
  readonly params: readonly SqlParam[]
  readonly statementClass: WriteStatementClass
  /** The read path's settings, in SETTINGS_SQL's parameter order. */
  readonly settings: SettingsValues
  readonly maxRows: number
  readonly maxBytes: number
  readonly types: TypeCache
  /** The connection's session check (postgres-session-identity.ts); null on PGlite. */
  readonly session: SessionCheck | null
}

export type WriteOutcome =
  | { readonly ok: true; readonly rowCount: number; readonly returning: PortalRows | null }
  /** `unexpected`: not a server error but a reply a write must not produce; nothing was committed. */
  | { readonly ok: false; readonly error: unknown; readonly unexpected?: string }

export class WriteQuery extends WireQuery<WriteOutcome> {
  readonly #config: WriteQueryConfig
  #rowCount: number | null = null
  #commitSent = false
  #committed = false

  constructor(config: WriteQueryConfig) {
    super(config, 'COPY is not accepted')
    this.#config = config
  }

  /** COMMIT has been written: from here an abort cannot tell whether the write happened. */
  get commitSent(): boolean {
    return this.#commitSent
  }

  submit(connection: Connection): void {
    const con = this.attach(connection)
    const { sql, params, settings } = this.#config
    this.corked(() => {
      con.parse({ text: BEGIN_WRITE_SQL })
      con.bind({})
      con.execute({})
      con.parse({ text: SETTINGS_SQL })
      con.bind({ values: [...settings] })
      con.execute({})
      this.writeStatement(con, sql, params)
      con.execute({ rows: 0 })
      con.flush()
    })
  }

  handlePortalSuspended(): void {
    // Execute asked for every row; a suspended portal is not something a write produces.
    this.markUnexpected('unexpected_message')
    if (this.steps[0] === 'user') this.steps.shift()
    this.#end()
  }

  protected userRow(fields: (string | null)[]): void {
    this.collector.add(fields)
  }

  protected commandComplete(step: Step, tag: string): void {
    if (step === 'user') {
      const match = WRITE_TAGS[this.#config.statementClass].exec(tag)
      if (match === null) this.markUnexpected('unexpected_command')
      else this.#rowCount = Number(match[1])
      this.#end()
    } else if (step === 'types') {
      this.collector.retype()
    } else if (step === 'end') {
      // COMMIT of an aborted transaction answers ROLLBACK: then nothing was written.
      if (this.#commitSent && tag === 'COMMIT') this.#committed = true
      else if (this.#commitSent) this.markUnexpected('commit_failed')
    }
  }

  protected statementDone(): void {
    this.#end()
  }

  protected failed(error: unknown, step: Step | undefined): WireFailure<WriteOutcome> {
    // The leak check failed after COMMIT answered: the write happened; the connection goes.
    if (this.#committed) return { outcome: this.#success(), mayNeedRollback: false }
    // The transaction may still be open (and aborted): roll back and check before any reuse.
    return { outcome: { ok: false, error, ...this.sessionRefusal }, mayNeedRollback: step !== 'check' }
  }

  protected ready(): void {
    if (this.#committed && this.unexpected === null) this.emit(this.#success())
    else this.emit({ ok: false, error: new Error('write not committed'), unexpected: this.unexpected ?? 'protocol' })
  }

  #success(): WriteOutcome {
    return { ok: true, rowCount: this.#rowCount ?? 0, returning: this.described ? this.collector.result() : null }
  }

  /** After the statement: COMMIT when everything was as expected, otherwise ROLLBACK; then the leak check. */
  #end(): void {
    const con = this.connection
    if (con === null || this.finishing) return
    this.finishing = true
    if (this.stopping) {
      // Sync without COMMIT: the server aborts the open transaction when the connection is destroyed.
      this.steps = []
      con.sync()
      return
    }
    if (this.collector.failed) this.markUnexpected('conversion_failed')
    const commit = this.unexpected === null && this.#rowCount !== null
    const unknown = commit ? this.collector.unknownOids() : []
    this.corked(() => {
      // RETURNING columns of types not yet known: named inside the transaction, before COMMIT.
      if (unknown.length > 0) this.writeTypeLookup(con, unknown)
      this.steps.push('end', 'check')
      this.#commitSent = commit
      con.parse({ text: commit ? COMMIT_SQL : ROLLBACK_SQL })
      con.bind({})
      con.execute({})
      con.parse({ text: LEAK_CHECK_SQL })
      con.bind({})
      con.execute({})
      con.sync()
    })
  }
}
