/**
 * Runs SQL through both stages the corpus is about, SQL analysis and the function policy, against
 * the fake catalog, and reports the outcome as the corpus spells it: `allow` or an error code.
 */
import { checkFunctions } from '../../src/policy/function-policy.js'
import { analyzeSql, analyzeWriteSql, type SqlLimits } from '../../src/sql/analyze-sql.js'
import { createFakePostgresCatalog } from './fake-postgres-catalog.js'

/** The limits the configuration defaults to (config-schema.ts). */
export const CORPUS_LIMITS: SqlLimits = Object.freeze({ maxSqlLength: 20_000, maxSqlDepth: 100 })

export interface Classification {
  readonly outcome: string
  readonly subject?: string
}

/** `allow`, or the first refusal's code (with its subject, for messages). Needs the parser loaded. */
export async function classifySql(sql: string, path: 'read' | 'write' = 'read'): Promise<Classification> {
  const analysed = (path === 'write' ? analyzeWriteSql : analyzeSql)(sql, CORPUS_LIMITS)
  if (!analysed.ok) return { outcome: analysed.code, ...(analysed.subject === undefined ? {} : { subject: analysed.subject }) }
  const catalog = createFakePostgresCatalog()
  const decided = await checkFunctions(analysed.value, {
    lookupFunctions: (names) => catalog.lookupFunctions(names),
    lookupOperators: (names) => catalog.lookupOperators(names),
    allowFunctions: [],
    searchPath: catalog.searchPath,
  })
  if (!decided.ok) return { outcome: decided.code, ...(decided.subject === undefined ? {} : { subject: decided.subject }) }
  return { outcome: 'allow' }
}
