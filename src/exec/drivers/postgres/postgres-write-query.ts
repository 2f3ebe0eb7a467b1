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
import type { PortalSettled } from './postgres-portal-query.js'
import { LEAK_CHECK_SQL, SETTINGS_SQL } from './postgres-read-sql.js'
import { RowCollector, type FieldDescription, type PortalRows } from './postgres-row-collector.js'
import { TYPE_LOOKUP_SQL, type TypeCache } from './postgres-types.js'

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

interface WireConnection {
  readonly stream: { cork?: () => void; uncork?: () => void }
  parse(msg: { text: string }): void
  bind(msg: { values?: (string | null)[] }): void
  describe(msg: { type: 'P' }): void
  execute(msg: { rows?: number }): void
  flush(): void
  sync(): void
  sendCopyFail(message: string): void
}

type Step = 'begin' | 'settings' | 'user' | 'types' | 'end' | 'check'

export interface WriteQueryConfig {
  readonly sql: string
  readonly params: readonly SqlParam[]
  readonly statementClass: WriteStatementClass
  /** The read path's settings, in SETTINGS_SQL's parameter order. */
  readonly settings: readonly [string, string, string, string, string | null, string, string]
  readonly maxRows: number
  readonly maxBytes: number
  readonly types: TypeCache
}

export type WriteOutcome =
  | { readonly ok: true; readonly rowCount: number; readonly returning: PortalRows | null }
  /** `unexpected`: not a server error but a reply a write must not produce; nothing was committed. */
  | { readonly ok: false; readonly error: unknown; readonly unexpected?: string }

function wireValue(value: SqlParam): string | null {
  if (value === null) return null
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  return String(value)
}

export class WriteQuery {
  /** Final at ReadyForQuery (or the first error): committed with its row count, or not. */
  readonly result: Promise<WriteOutcome>
  readonly settled: Promise<PortalSettled>

  readonly #config: WriteQueryConfig
  readonly #rows: RowCollector
  #con: WireConnection | null = null
  #resolveResult!: (outcome: WriteOutcome) => void
  #resolveSettled!: (settled: PortalSettled) => void
  #steps: Step[] = ['begin', 'settings', 'user']
  #done = false
  #finishing = false
  #stopping = false
  #described = false
  #rowCount: number | null = null
  #commitSent = false
  #committed = false
  #unexpected: string | null = null
  #leaked = 0

  constructor(config: WriteQueryConfig) {
    this.#config = config
    this.#rows = new RowCollector(config.maxRows, config.maxBytes, config.types)
    this.result = new Promise((resolve) => (this.#resolveResult = resolve))
    this.settled = new Promise((resolve) => (this.#resolveSettled = resolve))
  }

  /** COMMIT has been written: from here an abort cannot tell whether the write happened. */
  get commitSent(): boolean {
    return this.#commitSent
  }

  /** The caller is gone; the connection will be destroyed. Nothing more is written. */
  stop(): void {
    this.#stopping = true
  }

  submit(connection: Connection): void {
    const con = connection as unknown as WireConnection
    this.#con = con
    const { sql, params, settings } = this.#config
    this.#corked(() => {
      con.parse({ text: BEGIN_WRITE_SQL })
      con.bind({})
      con.execute({})
      con.parse({ text: SETTINGS_SQL })
      con.bind({ values: [...settings] })
      con.execute({})
      con.parse({ text: sql })
      con.bind({ values: params.map(wireValue) })
      con.describe({ type: 'P' })
      con.execute({ rows: 0 })
      con.flush()
    })
  }

  handleRowDescription(msg: { fields: readonly FieldDescription[] }): void {
    if (this.#steps[0] !== 'user') return this.#markUnexpected('unexpected_message')
    this.#described = true
    this.#rows.describe(msg.fields)
  }

  handleDataRow(msg: { fields: (string | null)[] }): void {
    switch (this.#steps[0]) {
      case 'settings':
        return
      case 'user':
        this.#rows.add(msg.fields)
        return
      case 'types':
        return this.#config.types.addLookupRow(msg.fields)
      case 'check':
        this.#leaked = msg.fields.reduce((sum, f) => sum + Number(f ?? 0), 0)
        return
      default:
        return this.#markUnexpected('unexpected_message')
    }
  }

  handlePortalSuspended(): void {
    // Execute asked for every row; a suspended portal is not something a write produces.
    this.#markUnexpected('unexpected_message')
    if (this.#steps[0] === 'user') this.#steps.shift()
    this.#end()
  }

  handleCommandComplete(msg: { text: string }): void {
    const step = this.#steps.shift()
    if (step === 'user') {
      const match = WRITE_TAGS[this.#config.statementClass].exec(msg.text)
      if (match === null) this.#markUnexpected('unexpected_command')
      else this.#rowCount = Number(match[1])
      this.#end()
    } else if (step === 'types') {
      this.#rows.retype()
    } else if (step === 'end') {
      // COMMIT of an aborted transaction answers ROLLBACK: then nothing was written.
      if (this.#commitSent && msg.text === 'COMMIT') this.#committed = true
      else if (this.#commitSent) this.#markUnexpected('commit_failed')
    } else if (step === undefined) {
      this.#markUnexpected('unexpected_message')
    }
  }

  handleEmptyQuery(): void {
    if (this.#steps[0] !== 'user') return this.#markUnexpected('unexpected_message')
    this.#steps.shift()
    this.#markUnexpected('empty_query')
    this.#end()
  }

  handleCopyInResponse(connection: Connection): void {
    this.#markUnexpected('unexpected_command')
    ;(connection as unknown as WireConnection).sendCopyFail('COPY is not accepted')
  }

  handleCopyData(): void {
    this.#markUnexpected('unexpected_command')
  }

  handleError(error: unknown): void {
    if (this.#done) return
    this.#done = true
    const step = this.#steps[0]
    if (!this.#finishing) this.#con?.sync()
    const serverError = typeof error === 'object' && error !== null && 'severity' in error
    if (this.#committed) {
      // The leak check failed after COMMIT answered: the write happened; the connection goes.
      this.#emit(this.#success())
      this.#resolveSettled({ clean: false, needsRollback: false, leaked: 0 })
      return
    }
    this.#emit({ ok: false, error })
    // The transaction may still be open (and aborted): roll back and check before any reuse.
    this.#resolveSettled({ clean: false, needsRollback: serverError && step !== 'check' && !this.#stopping, leaked: 0 })
  }

  handleReadyForQuery(): void {
    if (this.#done) return
    this.#done = true
    const complete = this.#finishing && this.#steps.length === 0 && !this.#stopping
    if (this.#committed && this.#unexpected === null) this.#emit(this.#success())
    else this.#emit({ ok: false, error: new Error('write not committed'), unexpected: this.#unexpected ?? 'protocol' })
    const clean = complete && this.#leaked === 0 && this.#unexpected === null
    this.#resolveSettled({ clean, needsRollback: false, leaked: this.#leaked })
  }

  #success(): WriteOutcome {
    return { ok: true, rowCount: this.#rowCount ?? 0, returning: this.#described ? this.#rows.result() : null }
  }

  /** After the statement: COMMIT when everything was as expected, otherwise ROLLBACK; then the leak check. */
  #end(): void {
    const con = this.#con
    if (con === null || this.#finishing) return
    this.#finishing = true
    if (this.#stopping) {
      // Sync without COMMIT: the server aborts the open transaction when the connection is destroyed.
      this.#steps = []
      con.sync()
      return
    }
    if (this.#rows.failed) this.#markUnexpected('conversion_failed')
    const commit = this.#unexpected === null && this.#rowCount !== null
    const unknown = commit ? this.#rows.unknownOids() : []
    this.#corked(() => {
      if (unknown.length > 0) {
        // RETURNING columns of types not yet known: named inside the transaction, before COMMIT.
        this.#steps.push('types')
        con.parse({ text: TYPE_LOOKUP_SQL })
        con.bind({ values: [`{${unknown.join(',')}}`] })
        con.execute({})
      }
      this.#steps.push('end', 'check')
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

  #emit(outcome: WriteOutcome): void {
    this.#resolveResult(outcome)
  }

  #markUnexpected(subject: string): void {
    this.#unexpected ??= subject
  }

  #corked(write: () => void): void {
    const stream = this.#con?.stream
    stream?.cork?.()
    try {
      write()
    } finally {
      stream?.uncork?.()
    }
  }
}
