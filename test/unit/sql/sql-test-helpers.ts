/** Shared helpers for the SQL analysis tests. */
import assert from 'node:assert/strict'
import { analyzeSql, type SqlLimits } from '../../../src/sql/analyze-sql.js'
import type { QueryAnalysis } from '../../../src/sql/query-analysis.js'
import type { Fail } from '../../../src/util/result.js'

export const LIMITS: SqlLimits = Object.freeze({ maxSqlLength: 20_000, maxSqlDepth: 100 })

/** The analysis of a statement that must be accepted. */
export function accepted(sql: string, limits: SqlLimits = LIMITS): QueryAnalysis {
  const result = analyzeSql(sql, limits)
  if (!result.ok) assert.fail(`expected ${JSON.stringify(sql)} to be accepted, got ${result.code} ${result.subject ?? ''}`)
  return result.value
}

/** The failure of a statement that must be refused. */
export function refused(sql: string, limits: SqlLimits = LIMITS): Fail {
  const result = analyzeSql(sql, limits)
  if (result.ok) assert.fail(`expected ${JSON.stringify(sql)} to be refused`)
  return result
}

export function assertRefused(sql: string, code: Fail['code'], subject?: string): void {
  const failure = refused(sql)
  assert.equal(failure.code, code, `${sql} → ${failure.code} ${failure.subject ?? ''}`)
  if (subject !== undefined) assert.equal(failure.subject, subject, sql)
}

/** Function names as `schema.name` (or `name`) in the order the walker found them, sorted. */
export function functionNames(analysis: QueryAnalysis): string[] {
  return analysis.functions.map((ref) => (ref.schema === null ? ref.name : `${ref.schema}.${ref.name}`)).sort()
}

export function relationNames(analysis: QueryAnalysis): string[] {
  return analysis.relations.map((ref) => (ref.schema === null ? ref.name : `${ref.schema}.${ref.name}`)).sort()
}

export function operatorNames(analysis: QueryAnalysis): string[] {
  return analysis.operators.map((ref) => (ref.schema === null ? ref.name : `${ref.schema}.${ref.name}`)).sort()
}
