/**
 * Column rules by projection. Each place the statement names a relation with denied or masked
 * columns is replaced by a subquery over that relation that lists only the allowed columns, with
 * each masked column computed by its mask:
 *
 *   SELECT email FROM customers c WHERE email LIKE 'a%'
 *   → SELECT email FROM (SELECT "id", "name", <hash of "email"> AS "email", … FROM "public"."customers") c
 *     WHERE email LIKE 'a%'
 *
 * So lineage is the engine's, not ours: whatever the statement does with the column (aliases,
 * expressions, subqueries, CTEs, joins, whole-row references, `SELECT *`, predicates), it only ever
 * sees the masked value, and a denied column does not exist for it: referring to one fails exactly
 * as referring to a column that never existed.
 *
 * The rewrite works on the original text, never on a deparsed tree (a deparser that drops
 * `WITH TIES` or `GROUP BY DISTINCT` would change results): the parser's byte offsets and the
 * scanner's tokens give the extent of each relation name (with a preceding `ONLY`, `ONLY (…)` or
 * `TABLE`), and only those bytes change. The result is then parsed and walked again, and accepted
 * only if every reference to a ruled relation is the one inside a projection we wrote, at the
 * offset we wrote it; anything else is refused (fail closed).
 *
 * Mask expressions use only schema-qualified built-ins, `IS NULL` and `OPERATOR(pg_catalog.…)`, so
 * no object in a user schema can stand in for them.
 */
import type { QueryAnalysis, RelationRef } from '../sql/query-analysis.js'
import { analyzeSql, type SqlLimits } from '../sql/analyze-sql.js'
import { scanPostgres, type SqlToken } from '../sql/parser/postgres-parser.js'
import { fail, ok, type Fail, type Result } from '../util/result.js'
import type { RelationPlan, RelationWrap } from './relation-policy.js'
import type { Mask } from './relation-rules.js'

const REDACTED = '[redacted]'
const PARTIAL_FILL = '***'

interface Span {
  readonly start: number
  readonly end: number
  readonly before: string
  /** The projection's relation name, `"schema"."name"`, placed right after `before`. */
  readonly inner: string
  readonly after: string
}

function unsupported(): Fail {
  return fail('ERR_POLICY_DENIED', { subject: 'unsupported_relation_syntax' })
}

/**
 * `statementText` read through the plan's projections, parsed and walked again. `analyze` is the
 * entry point the statement was accepted by (analyzeSql for reads, analyzeWriteSql for the
 * `execute` tool): the rewritten text must pass the same one.
 */
export function rewriteRelations(
  statementText: string,
  plan: RelationPlan,
  limits: SqlLimits,
  analyze: (text: string, limits: SqlLimits) => Result<QueryAnalysis> = analyzeSql,
): Result<QueryAnalysis> {
  // Offsets must be relative to this very text: analyse it as it stands.
  const analysed = analyze(statementText, limits)
  if (!analysed.ok) return analysed
  const scanned = scanPostgres(statementText)
  if (!scanned.ok) return scanned
  const tokens = scanned.value.filter((t) => t.tokenName !== 'SQL_COMMENT' && t.tokenName !== 'C_COMMENT')
  const byStart = new Map<number, number>()
  tokens.forEach((t, index) => byStart.set(t.start, index))

  const spans: Span[] = []
  for (const wrap of plan.wraps) {
    const ref = analysed.value.relations.find((r) => r.schema === wrap.written.schema && r.name === wrap.written.name)
    if (ref === undefined) return unsupported()
    for (const site of ref.sites) {
      const span = spanOf(tokens, byStart, ref, site, wrap)
      if (span === null) return unsupported()
      spans.push(span)
    }
  }
  spans.sort((a, b) => a.start - b.start)

  // Assemble, remembering where each projection's relation name lands in the output.
  const source = Buffer.from(statementText, 'utf8')
  const parts: Buffer[] = []
  const expectedInner = new Set<number>()
  let cursor = 0
  let written = 0
  for (const span of spans) {
    if (span.start < cursor) return unsupported()
    const gap = source.subarray(cursor, span.start)
    const before = Buffer.from(span.before, 'utf8')
    const inner = Buffer.from(span.inner, 'utf8')
    const after = Buffer.from(span.after, 'utf8')
    parts.push(gap, before, inner, after)
    written += gap.length + before.length
    expectedInner.add(written)
    written += inner.length + after.length
    cursor = span.end
  }
  parts.push(source.subarray(cursor))
  const rewritten = Buffer.concat(parts).toString('utf8')

  const final = analyze(rewritten, { ...limits, maxSqlLength: Math.max(limits.maxSqlLength, rewritten.length) })
  if (!final.ok) return unsupported()
  return verify(analysed.value, final.value, plan, expectedInner) ? ok(final.value) : unsupported()
}

/**
 * The rewritten statement names every relation the original did, at one site each, except that a
 * ruled relation's sites are now exactly the projections' inner names.
 */
function verify(original: QueryAnalysis, final: QueryAnalysis, plan: RelationPlan, expectedInner: ReadonlySet<number>): boolean {
  // A write must still write the same target with the same classes (projections only wrap reads).
  if ((original.write === undefined) !== (final.write === undefined)) return false
  if (original.write !== undefined && final.write !== undefined) {
    const [a, b] = [original.write, final.write]
    if (a.target.schema !== b.target.schema || a.target.name !== b.target.name) return false
    if (a.classes.join(',') !== b.classes.join(',') || a.returning !== b.returning) return false
    if (plan.wraps.some((w) => w.written.schema === a.target.schema && w.written.name === a.target.name)) return false
  }
  const ruled = new Set(plan.wraps.map((w) => `${w.schema}\u0000${w.name}`))
  const wrappedWritten = new Set(plan.wraps.map((w) => `${w.written.schema ?? ''}\u0000${w.written.name}`))
  const originalSites = new Map(original.relations.map((r) => [`${r.schema ?? ''}\u0000${r.name}`, r.sites.length]))
  let originalTotal = 0
  for (const r of original.relations) originalTotal += r.sites.length

  let finalTotal = 0
  const seenInner = new Set<number>()
  for (const r of final.relations) {
    finalTotal += r.sites.length
    const key = `${r.schema ?? ''}\u0000${r.name}`
    for (const site of r.sites) {
      if (expectedInner.has(site.location)) {
        if (r.schema === null || !ruled.has(key) || seenInner.has(site.location)) return false
        seenInner.add(site.location)
        continue
      }
      // Not one of ours: it must be a relation the original named and that needed no projection.
      if (ruled.has(key) || wrappedWritten.has(key) || !originalSites.has(key)) return false
    }
  }
  return seenInner.size === expectedInner.size && finalTotal === originalTotal
}

function spanOf(
  tokens: readonly SqlToken[],
  byStart: ReadonlyMap<number, number>,
  ref: RelationRef,
  site: RelationRef['sites'][number],
  wrap: RelationWrap,
): Span | null {
  const first = byStart.get(site.location)
  if (first === undefined) return null
  let last = first
  if (ref.schema !== null) {
    if (tokens[first + 1]?.text !== '.' || tokens[first + 2] === undefined) return null
    last = first + 2
  }
  let start = first
  if (site.only) {
    if (isKeyword(tokens[first - 1], 'only')) {
      start = first - 1
    } else if (tokens[first - 1]?.text === '(' && isKeyword(tokens[first - 2], 'only') && tokens[last + 1]?.text === ')') {
      start = first - 2
      last += 1
    } else {
      return null
    }
  } else if (tokens[last + 1]?.text === '*' && !isKeyword(tokens[first - 1], 'table')) {
    // The legacy `FROM name *` (children included, the default).
    last += 1
  }
  const table = isKeyword(tokens[start - 1], 'table')
  if (table) start -= 1

  const startToken = tokens[start]
  const endToken = tokens[last]
  if (startToken === undefined || endToken === undefined) return null
  const alias = quote(ref.name)
  const select = `SELECT ${projection(wrap)} FROM ${site.only ? 'ONLY ' : ''}`
  const inner = `${quote(wrap.schema)}.${quote(wrap.name)}`
  if (table) {
    return { start: startToken.start, end: endToken.end, before: ` SELECT * FROM (${select}`, inner, after: `) AS ${alias} ` }
  }
  return {
    start: startToken.start,
    end: endToken.end,
    before: ` (${select}`,
    inner,
    after: site.aliased ? ') ' : `) AS ${alias} `,
  }
}

function projection(wrap: RelationWrap): string {
  return wrap.columns.map((c) => (c.mask === null ? quote(c.column) : `${maskExpression(c.mask, quote(c.column))} AS ${quote(c.column)}`)).join(', ')
}

/** The SQL of one mask over a column reference; NULL stays NULL. */
export function maskExpression(mask: Mask, column: string): string {
  const text = `CAST(${column} AS pg_catalog.text)`
  switch (mask.kind) {
    case 'redact':
      return `CASE WHEN ${column} IS NULL THEN NULL ELSE ${literal(REDACTED)} END`
    case 'hash':
      return `pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(${text}, 'UTF8')), 'hex')`
    case 'partial': {
      const keep = mask.keepFirst + mask.keepLast
      // A value no longer than what would be kept is masked whole: partial must never show it all.
      return (
        `CASE WHEN ${column} IS NULL THEN NULL ` +
        `WHEN pg_catalog.length(${text}) OPERATOR(pg_catalog.<=) ${keep} THEN ${literal(PARTIAL_FILL)} ` +
        `ELSE pg_catalog.concat(pg_catalog.left(${text}, ${mask.keepFirst}), ${literal(PARTIAL_FILL)}, ` +
        `pg_catalog.right(${text}, ${mask.keepLast})) END`
      )
    }
  }
}

function isKeyword(token: SqlToken | undefined, word: string): boolean {
  return token !== undefined && token.keyword && token.text.toLowerCase() === word
}

/** A quoted identifier: any name the catalog holds, exactly. */
export function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`
}
