/**
 * Stage 7 of the call path (DESIGN.md §2): SQL analysis with PostgreSQL's real parser. Pure and
 * synchronous; never throws. The order of the checks is part of the contract:
 *
 * 1. Length cap, before parsing: the parser is synchronous and blocks the event loop (a 200 KB
 *    query takes about 260 ms), so a huge text must be refused without ever reaching it.
 * 2. Parse. A syntax error is ERR_SQL_PARSE; the parser's message stays in `cause`.
 * 3. Depth cap, measured iteratively, before anything that walks the tree.
 * 4. Exactly one statement. libpg-query drops empty statements, so `SELECT 1;;` is one statement
 *    and `;` alone is none; `SELECT 1; SELECT 2` (and every `COMMIT; DROP …` variant) is refused.
 *    With the extended protocol the server would refuse a second statement too; this is the
 *    first of the two gates, not the only one.
 * 5. The allowlist walker (walk-postgres-tree.ts).
 */
import type { QueryAnalysis } from './query-analysis.js'
import { fingerprintPostgres, normalizePostgres, parsePostgres, type RawStatement } from './parser/postgres-parser.js'
import { measureTreeDepth } from './tree-depth.js'
import { walkPostgresStatement, walkPostgresWriteStatement, type StatementFacts } from './walk-postgres-tree.js'
import { fail, ok, type Result } from '../util/result.js'

export interface SqlLimits {
  /** Longest accepted text, in UTF-16 code units (String#length; never fewer than the characters). */
  readonly maxSqlLength: number
  /** Deepest accepted parse tree, as measured by tree-depth.ts. */
  readonly maxSqlDepth: number
}

/** The read entry point (every tool but `execute`): only reads are accepted. */
export function analyzeSql(text: string, limits: SqlLimits): Result<QueryAnalysis> {
  return analyze(text, limits, walkPostgresStatement)
}

/**
 * The write entry point, for the `execute` tool only: the same checks in the same order, with the
 * write walker (exactly one INSERT, UPDATE or DELETE). Its results must never be cached or looked
 * up together with the read path's: the same text means a different verdict here.
 */
export function analyzeWriteSql(text: string, limits: SqlLimits): Result<QueryAnalysis> {
  return analyze(text, limits, walkPostgresWriteStatement)
}

function analyze(text: string, limits: SqlLimits, walk: (stmt: unknown) => Result<StatementFacts>): Result<QueryAnalysis> {
  if (text.length > limits.maxSqlLength) {
    return fail('ERR_SQL_TOO_LARGE', { data: { maxSqlLength: limits.maxSqlLength } })
  }
  // libpg-query refuses to parse '' at all; whitespace- or comment-only text parses to no statement.
  if (text === '') return fail('ERR_SQL_EMPTY')

  const parsed = parsePostgres(text)
  if (!parsed.ok) {
    return parsed.code === 'ERR_SQL_TOO_DEEP'
      ? fail('ERR_SQL_TOO_DEEP', { data: { maxSqlDepth: limits.maxSqlDepth }, cause: parsed.cause })
      : parsed
  }
  const statements = parsed.value.stmts

  for (const statement of statements) {
    if (measureTreeDepth(statement.stmt, limits.maxSqlDepth) > limits.maxSqlDepth) {
      return fail('ERR_SQL_TOO_DEEP', { data: { maxSqlDepth: limits.maxSqlDepth } })
    }
  }

  if (statements.length === 0) return fail('ERR_SQL_EMPTY')
  if (statements.length > 1) return fail('ERR_SQL_MULTI_STATEMENT', { data: { statements: statements.length } })
  const statement = statements[0] as RawStatement

  const facts = walk(statement.stmt)
  if (!facts.ok) return facts

  const statementText = sliceStatement(text, statement)
  if (statementText === null) return fail('ERR_INTERNAL', { cause: new Error('statement location out of range') })
  return ok(withLazyFingerprint({ ...facts.value, statementText }))
}

/**
 * The fingerprint and the normalized text each parse the statement again (~40 µs). Nothing on the
 * query path needs them, only records about the query do, so each is computed on first read and
 * remembered (a cached analysis keeps them).
 */
function withLazyFingerprint(analysis: Omit<QueryAnalysis, 'fingerprint' | 'normalizedSql'>): QueryAnalysis {
  const lazy = (compute: (text: string) => { ok: true; value: string } | { ok: false }, what: string) => {
    let memo: string | null = null
    return {
      enumerable: true,
      get(): string {
        if (memo === null) {
          const result = compute(analysis.statementText)
          // Parsed once already, so this cannot fail in practice; if it ever does, fail loudly (closed).
          if (!result.ok) throw new Error(`${what} failed for an accepted statement`)
          memo = result.value
        }
        return memo
      },
    }
  }
  return Object.defineProperties(analysis, {
    fingerprint: lazy(fingerprintPostgres, 'fingerprint'),
    normalizedSql: lazy(normalizePostgres, 'normalize'),
  }) as QueryAnalysis
}

/**
 * The text of one statement, from the parser's byte offsets (PostgreSQL locations count UTF-8
 * bytes, not characters). The parser starts a statement at its first token, so leading comments
 * go; surrounding whitespace and trailing semicolons go too. Comments inside stay, and so does a
 * trailing `-- comment` of the last statement (its length runs to the end of the text), so
 * anything that appends to this text must start with a newline.
 */
export function sliceStatement(text: string, statement: RawStatement): string | null {
  const start = statement.stmt_location ?? 0
  const length = statement.stmt_len ?? 0
  let slice: string
  if (isAscii(text)) {
    if (start < 0 || start > text.length) return null
    slice = length > 0 ? text.slice(start, start + length) : text.slice(start)
  } else {
    const bytes = Buffer.from(text, 'utf8')
    if (start < 0 || start > bytes.length) return null
    slice = (length > 0 ? bytes.subarray(start, start + length) : bytes.subarray(start)).toString('utf8')
  }
  let end = slice.length
  for (;;) {
    while (end > 0 && isSpace(slice.charCodeAt(end - 1))) end -= 1
    if (end > 0 && slice.charCodeAt(end - 1) === 59) end -= 1
    else break
  }
  return slice.slice(0, end).trimStart()
}

function isAscii(text: string): boolean {
  for (let index = 0; index < text.length; index += 1) if (text.charCodeAt(index) > 127) return false
  return true
}

/** PostgreSQL's scanner whitespace: space, tab, newline, carriage return, form feed (scan.l). */
function isSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 13 || code === 12 || code === 11
}
