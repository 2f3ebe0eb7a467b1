/**
 * Phase B for writes (issue 3), on the analysis of an INSERT, UPDATE or DELETE. Runs besides the
 * relation policy for what the statement reads (relation-policy.ts: FROM, USING and sub-selects get
 * the same checks and projections as a read); this module decides on what it writes:
 *
 * - every write class the statement needs must be granted (`access: { write: [...] }`, the
 *   intersection over the granting roles); `INSERT … ON CONFLICT DO UPDATE` needs insert and update;
 * - under phase B rules, the target must resolve (a missing target is refused exactly like a
 *   forbidden one), be a table or a partitioned table (writing through a view writes relations the
 *   statement does not name), be allowed by the table rules, and so must every inheritance child
 *   and partition (an INSERT into a partitioned table is routed to one; UPDATE and DELETE reach
 *   children unless ONLY);
 * - a target with column rules (denied or masked columns, on itself or a child) is refused. The
 *   read side hides those columns by reading the table through a projection, but a write cannot
 *   target a projection: `RETURNING email` or `RETURNING *` would read the real value,
 *   `WHERE email LIKE 'a%'` would probe it (the row count says whether it matched), and
 *   `SET email = …` would write a column the role may not even see. Refusing is the fail-closed
 *   choice; a role that must write such a table needs a grant without column rules on it.
 */
import type { QueryAnalysis } from '../sql/query-analysis.js'
import { fail, ok, type Fail, type Result } from '../util/result.js'
import type { WriteClass } from './compile-policy.js'
import type { RelationPolicyDeps } from './relation-policy.js'
import type { RelationRules } from './relation-rules.js'

/** Relation kinds a restricted write may target: ordinary and partitioned tables. */
const WRITABLE_KINDS: ReadonlySet<string> = new Set(['r', 'p'])

function deny(subject: string): Fail {
  return fail('ERR_POLICY_DENIED', { subject })
}

/** The write classes: every one the statement needs must be granted. Pure; runs before any lookup. */
export function checkWriteClasses(analysis: QueryAnalysis, granted: ReadonlySet<WriteClass>): Result<void> {
  const write = analysis.write
  if (write === undefined) return fail('ERR_SQL_NOT_DML', { subject: analysis.statementClass })
  for (const needed of write.classes) if (!granted.has(needed)) return deny(`write_class:${needed}`)
  return ok(undefined)
}

/** The target under phase B rules; unrestricted grants leave it to the database role's grants. */
export async function checkWriteTarget(
  analysis: QueryAnalysis,
  rules: RelationRules | null,
  deps: RelationPolicyDeps,
): Promise<Result<void>> {
  const write = analysis.write
  if (write === undefined) return fail('ERR_SQL_NOT_DML', { subject: analysis.statementClass })
  if (rules === null) return ok(undefined)
  const target = write.target
  const written = target.schema === null ? target.name : `${target.schema}.${target.name}`
  const name = { schema: target.schema, name: target.name }
  let info = deps.cache?.get(name)
  if (info === undefined) {
    const looked = await deps.lookupRelations([name])
    if (!looked.ok) return looked
    if (looked.value.length !== 1) return fail('ERR_INTERNAL', { subject: 'relation_lookup_shape' })
    info = looked.value[0] ?? null
    deps.cache?.set(name, info)
  }
  // Missing, forbidden and not-a-table get the same answer: the name as the caller wrote it.
  if (info === null || !WRITABLE_KINDS.has(info.kind) || !rules.relationAllowed(info.schema, info.name)) return deny(written)
  for (const child of info.descendants) if (!rules.relationAllowed(child.schema, child.name)) return deny(written)
  const family = [info, ...info.descendants]
  if (family.some((r) => rules.hasColumnRules(r.schema, r.name))) return deny(`write_target_column_rules:${written}`)
  return ok(undefined)
}
