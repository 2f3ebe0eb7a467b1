/**
 * The reviewed EXPLAIN options (PostgreSQL docs, "EXPLAIN"). EXPLAIN without ANALYZE only plans the
 * statement; ANALYZE executes it, so `EXPLAIN ANALYZE <write>` writes and `EXPLAIN ANALYZE <read>`
 * runs every function in it. ANALYZE is refused in every spelling (`ANALYZE`, `ANALYSE`,
 * `(ANALYZE)`, `(ANALYZE false)`, `(ANALYZE off)`): an option whose value decides whether the
 * statement runs is not worth parsing the value of. BUFFERS, WAL, TIMING and SERIALIZE only mean
 * something with ANALYZE (or report planner internals we have no use for), so they are not listed.
 */

export interface ExplainOption {
  readonly name: string
  readonly reason: string
  /** Accepted values, lower case; `null` means a boolean option (absent value = true). */
  readonly values: readonly string[] | null
}

export const EXPLAIN_OPTIONS: readonly ExplainOption[] = Object.freeze([
  { name: 'costs', reason: 'planner cost estimates; planning only', values: null },
  { name: 'verbose', reason: 'output columns and qualified names; planning only', values: null },
  { name: 'settings', reason: 'modified planner settings; planner settings are readable anyway', values: null },
  { name: 'summary', reason: 'planning time without ANALYZE', values: null },
  { name: 'generic_plan', reason: 'plans a statement with $n placeholders without values', values: null },
  { name: 'memory', reason: 'planner memory use (PostgreSQL 17+); planning only', values: null },
  { name: 'format', reason: 'output format of the plan', values: ['text', 'json', 'xml', 'yaml'] },
])

/** PostgreSQL's `defGetBoolean` spellings (commands/define.c). Anything else errors in the server. */
export const EXPLAIN_BOOLEAN_VALUES: readonly string[] = Object.freeze(['true', 'false', 'on', 'off', '1', '0'])

const byName: ReadonlyMap<string, ExplainOption> = new Map(EXPLAIN_OPTIONS.map((option) => [option.name, option]))

/**
 * The reviewed option of this exact name, or undefined. PostgreSQL compares option names
 * case-sensitively after the grammar folds unquoted names, so `("COSTS")` is not `costs` to the
 * server, and it is not here either.
 */
export function explainOption(name: string): ExplainOption | undefined {
  return byName.get(name)
}
