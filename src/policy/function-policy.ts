/**
 * The function policy (phase B, DESIGN.md §2 step 8): every function call, every name in
 * attribute-notation position and every operator the analysis found must resolve only to
 * functions we have reviewed.
 *
 * Why the catalog is asked even for builtin names: PostgreSQL resolves an unqualified name against
 * pg_catalog and the search path together and picks by argument types (docs §10.3), so a user
 * schema can overload `lower(text)` with `lower(my_type)` that writes. We cannot know which
 * candidate the server will pick without planning the query, so every candidate visible under the
 * fixed search path must be acceptable:
 *
 * - a pg_catalog candidate: its name is on postgres-builtin-functions.ts;
 * - an information_schema candidate: PostgreSQL's own SQL helper functions, accepted;
 * - any other (user, extension) candidate passes the UDF rule: IMMUTABLE or STABLE, not SECURITY
 *   DEFINER, not a procedure, or named in the source's `allowFunctions` (`schema.name` or `name`);
 * - a name on postgres-denied-functions.ts is refused whatever its candidates and whatever
 *   `allowFunctions` says;
 * - a name with no visible candidate is refused (fail closed: a function we cannot see is a
 *   function we cannot review).
 *
 * Candidates are matched by name only, whatever their argument count: attribute notation `(x).f`
 * also reaches functions with defaults (`f(a, b DEFAULT 0)`) and variadic ones, and FunctionInfo
 * does not carry enough to replay PostgreSQL's resolution. Stricter, never looser.
 *
 * The UDF rule trusts the declared volatility: PostgreSQL refuses writes inside a STABLE or
 * IMMUTABLE SQL or PL/pgSQL function, but such a function may still call a volatile one (an
 * advisory lock, say). Declaring it STABLE is the owner's promise; the read-only transaction and
 * the role's privileges are the second gate (I2).
 *
 * Pure checks run first; then one batched lookup for all uncached function names and one for all
 * uncached operator names; a failed lookup fails the call (fail closed). A denial's subject is the
 * function or operator name from the parse tree, never SQL text.
 */
import type { FunctionInfo, OperatorInfo } from '../exec/drivers/driver.js'
import type { QueryAnalysis } from '../sql/query-analysis.js'
import { isAllowedBuiltinFunction } from '../sql/rules/postgres-builtin-functions.js'
import { deniedFunction } from '../sql/rules/postgres-denied-functions.js'
import { isReadableSetting } from '../sql/rules/postgres-settings.js'
import { fail, ok, type Fail, type Result } from '../util/result.js'
import { CatalogCache, groupByName } from './catalog-cache.js'

export { CatalogCache, type CatalogCacheOptions } from './catalog-cache.js'

export interface FunctionPolicyDeps {
  /** Per-source cache; without one every call asks the catalog. */
  readonly cache?: CatalogCache
  /** pg_proc rows with one of these names in pg_catalog or the source's fixed search path. */
  lookupFunctions(names: readonly string[]): Promise<Result<readonly FunctionInfo[]>>
  /** pg_operator rows with one of these names in pg_catalog or the fixed search path. */
  lookupOperators(names: readonly string[]): Promise<Result<readonly OperatorInfo[]>>
  /** Reviewed user functions that may break the UDF rule: `schema.name` or `name`, case-sensitive. */
  readonly allowFunctions: readonly string[]
  /** The source's fixed search path (pg_catalog is implicit and always first). */
  readonly searchPath: readonly string[]
  /**
   * Under phase B rules (a role restricted to some tables), the only user functions allowed,
   * `schema.name`: any other one could read a table the role may not, whatever its volatility.
   */
  readonly onlyUserFunctions?: ReadonlySet<string> | null
}

/**
 * Functions whose safety depends on an argument the policy checks from the call site. Reached any
 * other way (attribute notation, behind an operator) the argument is invisible, so they are refused.
 */
const ARGUMENT_CHECKED_FUNCTIONS: ReadonlySet<string> = new Set(['current_setting'])

const NO_ROWS: readonly never[] = Object.freeze([])

export async function checkFunctions(analysis: QueryAnalysis, deps: FunctionPolicyDeps): Promise<Result<void>> {
  // 1. Pure checks, no I/O.
  const functionNames = new Set<string>()
  for (const ref of analysis.functions) {
    if (deniedFunction(ref.name) !== undefined) return denyFunction(ref.name)
    if (ref.name === 'current_setting' && (ref.schema === null || ref.schema === 'pg_catalog')) {
      const refusal = checkCurrentSetting(ref.constStringArgs)
      if (refusal !== undefined) return refusal
    }
    if (ref.schema === 'pg_catalog') {
      if (!isAllowedBuiltinFunction(ref.name)) return denyFunction(ref.name)
      continue
    }
    functionNames.add(ref.name)
  }
  for (const name of analysis.attributeNames) functionNames.add(name)
  for (const setting of analysis.shownSettings) {
    if (!isReadableSetting(setting)) return fail('ERR_SQL_FORBIDDEN_SETTING', { subject: setting })
  }
  const operatorNames = new Set<string>()
  for (const operator of analysis.operators) {
    if (operator.schema !== 'pg_catalog') operatorNames.add(operator.name)
  }

  // 2. Catalog lookups: cached names first, then one batched call per kind for the rest.
  const resolved = await resolveCandidates(functionNames, operatorNames, deps)
  if (!resolved.ok) return resolved
  const { functions, operators } = resolved.value

  // 3. Decisions on the candidates.
  const visibleSchemas = new Set(['pg_catalog', ...deps.searchPath])
  const allowList = new Set(deps.allowFunctions)
  const only = deps.onlyUserFunctions ?? null

  for (const ref of analysis.functions) {
    if (ref.schema === 'pg_catalog') continue
    const candidates = visible(functions.get(ref.name) ?? NO_ROWS, ref.schema, visibleSchemas)
    if (candidates.length === 0) return denyFunction(ref.name)
    for (const candidate of candidates) {
      if (!functionAllowed(candidate, allowList, only)) return denyFunction(ref.name)
    }
  }

  for (const name of analysis.attributeNames) {
    const candidates = visible(functions.get(name) ?? NO_ROWS, null, visibleSchemas)
    // No function of that name: `t.name` can only be a column (or an error in the server).
    if (candidates.length === 0) continue
    if (deniedFunction(name) !== undefined || ARGUMENT_CHECKED_FUNCTIONS.has(name)) return denyFunction(name)
    for (const candidate of candidates) {
      if (!functionAllowed(candidate, allowList, only)) return denyFunction(name)
    }
  }

  for (const operator of analysis.operators) {
    if (operator.schema === 'pg_catalog') continue
    const candidates = visible(operators.get(operator.name) ?? NO_ROWS, operator.schema, visibleSchemas)
    if (candidates.length === 0) return denyFunction(operator.name)
    for (const candidate of candidates) {
      if (!operatorAllowed(candidate, allowList, only)) return denyFunction(operator.name)
    }
  }

  return ok(undefined)
}

/**
 * `current_setting('name' [, missing_ok])` is allowed only with a string constant naming a
 * reviewed setting: a setting read from a column or a parameter could be any setting at all.
 */
function checkCurrentSetting(args: readonly (string | null)[]): Fail | undefined {
  const name = args[0]
  if (name === undefined || name === null) return denyFunction('current_setting')
  if (!isReadableSetting(name)) return fail('ERR_SQL_FORBIDDEN_SETTING', { subject: 'current_setting' })
  return undefined
}

/** The UDF rule, with the builtin allowlist for pg_catalog and the denylist over both. */
function functionAllowed(candidate: FunctionInfo, allowList: ReadonlySet<string>, only: ReadonlySet<string> | null): boolean {
  if (deniedFunction(candidate.name) !== undefined) return false
  if (candidate.schema === 'pg_catalog') return isAllowedBuiltinFunction(candidate.name)
  if (candidate.schema === 'information_schema') return true
  return passesUdfRule(candidate, allowList, only)
}

/**
 * Operators in pg_catalog are PostgreSQL's own. A user operator is as safe as the function behind
 * it: that function must pass the UDF rule, or be an IMMUTABLE pg_catalog function (the
 * `texteq`-style implementation functions, which are not on the call allowlist because nobody
 * calls them by name). A user operator over a denied or argument-checked function
 * (`CREATE OPERATOR !!! (FUNCTION = pg_terminate_backend)`, or over `current_setting`) is refused.
 */
function operatorAllowed(candidate: OperatorInfo, allowList: ReadonlySet<string>, only: ReadonlySet<string> | null): boolean {
  if (candidate.schema === 'pg_catalog') return true
  const behind = candidate.function
  if (deniedFunction(behind.name) !== undefined || ARGUMENT_CHECKED_FUNCTIONS.has(behind.name)) return false
  if (behind.schema === 'pg_catalog') {
    return isAllowedBuiltinFunction(behind.name) || (behind.volatility === 'i' && !behind.securityDefiner)
  }
  if (behind.schema === 'information_schema') return true
  return passesUdfRule(behind, allowList, only)
}

function passesUdfRule(candidate: FunctionInfo, allowList: ReadonlySet<string>, only: ReadonlySet<string> | null): boolean {
  if (only !== null) return only.has(`${candidate.schema}.${candidate.name}`)
  if (allowList.has(candidate.name) || allowList.has(`${candidate.schema}.${candidate.name}`)) return true
  return (candidate.volatility === 'i' || candidate.volatility === 's') && !candidate.securityDefiner && candidate.kind !== 'p'
}

/**
 * The candidates PostgreSQL could pick: for an unqualified name, those in pg_catalog or the fixed
 * search path (never pg_temp, which PostgreSQL does not search for functions or operators); for a
 * qualified name, only that schema. The driver should only return these; filtering again keeps a
 * driver bug from widening what is allowed.
 */
function visible<T extends { readonly schema: string }>(
  rows: readonly T[],
  schema: string | null,
  visibleSchemas: ReadonlySet<string>,
): readonly T[] {
  return rows.filter((row) => (schema === null ? visibleSchemas.has(row.schema) : row.schema === schema))
}

interface Candidates {
  readonly functions: ReadonlyMap<string, readonly FunctionInfo[]>
  readonly operators: ReadonlyMap<string, readonly OperatorInfo[]>
}

async function resolveCandidates(
  functionNames: ReadonlySet<string>,
  operatorNames: ReadonlySet<string>,
  deps: FunctionPolicyDeps,
): Promise<Result<Candidates>> {
  const functions = new Map<string, readonly FunctionInfo[]>()
  const operators = new Map<string, readonly OperatorInfo[]>()
  const missingFunctions: string[] = []
  const missingOperators: string[] = []
  for (const name of functionNames) {
    const cached = deps.cache?.functions(name)
    if (cached === undefined) missingFunctions.push(name)
    else functions.set(name, cached)
  }
  for (const name of operatorNames) {
    const cached = deps.cache?.operators(name)
    if (cached === undefined) missingOperators.push(name)
    else operators.set(name, cached)
  }
  if (missingFunctions.length === 0 && missingOperators.length === 0) return ok({ functions, operators })

  const [functionRows, operatorRows] = await Promise.all([
    missingFunctions.length > 0 ? deps.lookupFunctions(missingFunctions) : ok(NO_ROWS),
    missingOperators.length > 0 ? deps.lookupOperators(missingOperators) : ok(NO_ROWS),
  ])
  if (!functionRows.ok) return functionRows
  if (!operatorRows.ok) return operatorRows

  if (missingFunctions.length > 0) {
    deps.cache?.storeFunctions(missingFunctions, functionRows.value)
    const byName = groupByName(functionRows.value)
    for (const name of missingFunctions) functions.set(name, byName.get(name) ?? NO_ROWS)
  }
  if (missingOperators.length > 0) {
    deps.cache?.storeOperators(missingOperators, operatorRows.value)
    const byName = groupByName(operatorRows.value)
    for (const name of missingOperators) operators.set(name, byName.get(name) ?? NO_ROWS)
  }
  return ok({ functions, operators })
}

function denyFunction(name: string): Fail {
  return fail('ERR_SQL_FORBIDDEN_FUNCTION', { subject: name })
}
