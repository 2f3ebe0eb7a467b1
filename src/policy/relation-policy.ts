/**
 * Phase B of the policy on relations (DESIGN §2 step 8, issue 3): for a role whose grant restricts
 * schemas, tables, columns or masks, every relation the statement reads must be allowed, and so
 * must everything reading it reads:
 *
 * - each name resolves as the engine resolves it, under the source's fixed search path; a name that
 *   resolves to nothing is refused exactly like a forbidden one, so the answer never tells them
 *   apart;
 * - a view or materialized view is expanded to what its definition reads (column by column) and
 *   calls; every relation it reads must be allowed, none of the columns it reads may be denied or
 *   masked (its lineage through the view is not followed, so it is refused, not unmasked), and
 *   every function it calls must be one this role may call;
 * - reading a table without ONLY reads its inheritance children and partitions: each must be
 *   allowed, and their column rules apply too;
 * - catalog relations are readable only when the allow list names them (`pg_stats` leaks column
 *   values, `pg_stat_activity` other sessions' queries);
 * - name-resolving casts (`'secrets'::regclass`) and catalog probe functions are refused, because
 *   their answers tell a missing object from a present one.
 *
 * A relation with denied or masked columns is read through a projection (relation-rewrite.ts): the
 * plan returned here lists which relations need one and what it holds.
 */
import type { RelationInfo, RelationName, TypeInfo } from '../exec/drivers/driver.js'
import type { QueryAnalysis } from '../sql/query-analysis.js'
import { isAllowedBuiltinFunction } from '../sql/rules/postgres-builtin-functions.js'
import { deniedFunction } from '../sql/rules/postgres-denied-functions.js'
import { CATALOG_PROBE_FUNCTIONS, NAME_RESOLVING_TYPES } from '../sql/rules/postgres-probe-functions.js'
import { fail, ok, type Fail, type Result } from '../util/result.js'
import type { RelationCache } from './relation-cache.js'
import type { Mask, RelationRules } from './relation-rules.js'

export interface RelationPolicyDeps {
  readonly cache?: RelationCache
  lookupRelations(names: readonly RelationName[]): Promise<Result<readonly (RelationInfo | null)[]>>
  lookupTypes(names: readonly RelationName[]): Promise<Result<readonly (TypeInfo | null)[]>>
  readonly typeCache?: Map<string, { readonly expiresAt: number; readonly info: TypeInfo | null }>
}

/** One output column of a projection: the column as is, or masked. Denied columns are absent. */
export interface ProjectedColumn {
  readonly column: string
  readonly mask: Mask | null
}

/** A relation the statement must read through a projection, and where it is named. */
export interface RelationWrap {
  /** As written in the statement (schema null when unqualified): matches RelationRef. */
  readonly written: RelationName
  readonly schema: string
  readonly name: string
  readonly columns: readonly ProjectedColumn[]
}

export interface RelationPlan {
  readonly wraps: readonly RelationWrap[]
}

const NO_WRAPS: RelationPlan = Object.freeze({ wraps: Object.freeze([]) })

/** The one refusal of this stage: same code, and a subject that is only ever the caller's own words. */
function deny(subject: string): Fail {
  return fail('ERR_POLICY_DENIED', { subject })
}

export async function checkRelations(
  analysis: QueryAnalysis,
  rules: RelationRules | null,
  functions: ReadonlySet<string>,
  deps: RelationPolicyDeps,
): Promise<Result<RelationPlan>> {
  if (rules === null) return ok(NO_WRAPS)

  // 1. Pure checks: name-resolving types and probe functions, on names from the parse tree.
  for (const type of analysis.typeNames) {
    if ((type.schema === null || type.schema === 'pg_catalog') && NAME_RESOLVING_TYPES.has(type.name)) {
      return deny(`type:${type.name}`)
    }
  }
  for (const ref of analysis.functions) {
    if ((ref.schema === null || ref.schema === 'pg_catalog') && CATALOG_PROBE_FUNCTIONS.has(ref.name)) {
      return deny(`function:${ref.name}`)
    }
  }
  for (const name of analysis.attributeNames) {
    if (CATALOG_PROBE_FUNCTIONS.has(name)) return deny(`function:${name}`)
  }
  // A row type names a relation too: `NULL::secrets` tells whether secrets exists, and
  // `(NULL::secrets).*` lists its columns. A type that resolves to nothing is refused like a
  // forbidden one; a row type must belong to a relation this call may read, without column rules.
  const userTypes = analysis.typeNames.filter((t) => t.schema !== 'pg_catalog')
  if (userTypes.length > 0) {
    const types = await resolveTypes(userTypes, deps)
    if (!types.ok) return types
    for (let index = 0; index < userTypes.length; index += 1) {
      const type = types.value[index] ?? null
      const ref = userTypes[index] as RelationName
      const written = `type:${ref.schema === null ? ref.name : `${ref.schema}.${ref.name}`}`
      if (type === null) return deny(written)
      if (type.relation === null) continue
      if (rules.hasColumnRules(type.relation.schema, type.relation.name)) return deny(written)
      const owner = await resolve([type.relation], deps)
      if (!owner.ok) return owner
      if (decideRelation(owner.value[0] ?? null, false, rules, functions) !== null) return deny(written)
    }
  }
  if (analysis.relations.length === 0) return ok(NO_WRAPS)

  // 2. Resolve every name (cache first, then one batched lookup).
  const resolved = await resolve(analysis.relations, deps)
  if (!resolved.ok) return resolved

  // 3. Decide on each relation, and plan the projections.
  const wraps: RelationWrap[] = []
  for (let index = 0; index < analysis.relations.length; index += 1) {
    const ref = analysis.relations[index]
    if (ref === undefined) continue
    const written = ref.schema === null ? ref.name : `${ref.schema}.${ref.name}`
    const decided = decideRelation(resolved.value[index] ?? null, ref.sites.some((s) => !s.only), rules, functions)
    if (decided === false) return deny(written)
    if (decided !== null) wraps.push({ written: { schema: ref.schema, name: ref.name }, ...decided })
  }
  return ok(wraps.length === 0 ? NO_WRAPS : { wraps })
}

/**
 * For listing tools: which of these (qualified) relations this call may read, by the same rules
 * as a statement naming each of them alone.
 */
export async function readableRelations(
  names: readonly { readonly schema: string; readonly name: string }[],
  rules: RelationRules | null,
  functions: ReadonlySet<string>,
  deps: RelationPolicyDeps,
): Promise<Result<readonly boolean[]>> {
  if (rules === null) return ok(names.map(() => true))
  const candidates = names.map((n) => rules.relationAllowed(n.schema, n.name))
  const refs = names.filter((_, index) => candidates[index] === true)
  const resolved = await resolve(refs, deps)
  if (!resolved.ok) return resolved
  let at = 0
  return ok(candidates.map((candidate) => candidate && decideRelation(resolved.value[at++] ?? null, true, rules, functions) !== false))
}

/**
 * One relation: false when refused; null when readable as it is; otherwise the projection it must
 * be read through.
 */
function decideRelation(
  info: RelationInfo | null,
  readsDescendants: boolean,
  rules: RelationRules,
  functions: ReadonlySet<string>,
): false | null | Omit<RelationWrap, 'written'> {
  if (info === null) return false
  if (!rules.relationAllowed(info.schema, info.name)) return false
  if (checkExpansion(info, rules, functions) !== null) return false
  // Children and partitions are read unless every site says ONLY.
  const family = readsDescendants ? [info, ...info.descendants] : [info]
  for (const member of family) if (!rules.relationAllowed(member.schema, member.name)) return false
  if (!family.some((r) => rules.hasColumnRules(r.schema, r.name))) return null
  const columns: ProjectedColumn[] = []
  for (const column of info.columns) {
    let mask: Mask | null = null
    let denied = false
    for (const r of family) {
      const rule = rules.columnRule(r.schema, r.name, column)
      if (rule.kind === 'deny') denied = true
      else if (rule.kind !== 'allow' && (mask === null || strength(rule) > strength(mask))) mask = rule
    }
    if (!denied) columns.push({ column, mask })
  }
  return { schema: info.schema, name: info.name, columns }
}

/** Views: what they read and call. Returns a reason when refused, null when fine. */
function checkExpansion(info: RelationInfo, rules: RelationRules, functions: ReadonlySet<string>): string | null {
  for (const read of info.reads) {
    if (!rules.relationAllowed(read.schema, read.name)) return 'view_reads_forbidden_relation'
    if (!rules.hasColumnRules(read.schema, read.name)) continue
    // The whole row, or a column with a rule: its lineage through the view is not followed.
    if (read.column === null) return 'view_reads_ruled_row'
    if (rules.columnRule(read.schema, read.name, read.column).kind !== 'allow') return 'view_reads_ruled_column'
  }
  for (const call of info.calls) {
    if (call.schema === 'pg_catalog') {
      if (deniedFunction(call.name) !== undefined || CATALOG_PROBE_FUNCTIONS.has(call.name)) return 'view_calls_function'
      if (!isAllowedBuiltinFunction(call.name)) return 'view_calls_function'
    } else if (call.schema !== 'information_schema' && !functions.has(`${call.schema}.${call.name}`)) {
      return 'view_calls_function'
    }
  }
  return null
}

async function resolve(
  relations: readonly RelationName[],
  deps: RelationPolicyDeps,
): Promise<Result<readonly (RelationInfo | null)[]>> {
  const out: (RelationInfo | null | undefined)[] = relations.map((r) => deps.cache?.get(r))
  const missing: number[] = []
  out.forEach((entry, index) => {
    if (entry === undefined) missing.push(index)
  })
  if (missing.length > 0) {
    const names = missing.map((index) => relations[index] as RelationName)
    const looked = await deps.lookupRelations(names.map((n) => ({ schema: n.schema, name: n.name })))
    if (!looked.ok) return looked
    if (looked.value.length !== names.length) return fail('ERR_INTERNAL', { subject: 'relation_lookup_shape' })
    missing.forEach((index, at) => {
      const info = looked.value[at] ?? null
      out[index] = info
      deps.cache?.set(relations[index] as RelationName, info)
    })
  }
  return ok(out.map((entry) => entry ?? null))
}

const TYPE_TTL_MS = 60_000
const TYPE_CACHE_MAX = 10_000

async function resolveTypes(names: readonly RelationName[], deps: RelationPolicyDeps): Promise<Result<readonly (TypeInfo | null)[]>> {
  const now = Date.now()
  const key = (n: RelationName) => `${n.schema ?? ''}\u0000${n.name}`
  const out: (TypeInfo | null | undefined)[] = names.map((n) => {
    const hit = deps.typeCache?.get(key(n))
    return hit !== undefined && hit.expiresAt > now ? hit.info : undefined
  })
  const missing = names.filter((_, index) => out[index] === undefined)
  if (missing.length > 0) {
    const looked = await deps.lookupTypes(missing.map((n) => ({ schema: n.schema, name: n.name })))
    if (!looked.ok) return looked
    if (looked.value.length !== missing.length) return fail('ERR_INTERNAL', { subject: 'type_lookup_shape' })
    let at = 0
    names.forEach((n, index) => {
      if (out[index] !== undefined) return
      const info = looked.value[at++] ?? null
      out[index] = info
      if (deps.typeCache !== undefined) {
        if (deps.typeCache.size >= TYPE_CACHE_MAX) deps.typeCache.clear()
        deps.typeCache.set(key(n), { expiresAt: now + TYPE_TTL_MS, info })
      }
    })
  }
  return ok(out.map((entry) => entry ?? null))
}

function strength(mask: Mask): number {
  return mask.kind === 'redact' ? 3 : mask.kind === 'hash' ? 2 : 1
}
