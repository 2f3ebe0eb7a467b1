/**
 * The cost ceiling per query (issue 5, decision D25). Before a `query` runs, PostgreSQL plans it
 * (`EXPLAIN (FORMAT JSON)`, never ANALYZE) through the driver's own explain path: a separate
 * `BEGIN READ ONLY` transaction with the call's transaction-local settings, database role,
 * principal and claims, search path and statement timeout, so the estimate is the one the role's
 * plan gets (row-level security quals included). A plan whose total cost is above the ceiling is
 * refused with ERR_QUOTA_COST and `{ estimatedCost, maxCost }`, so the agent can narrow it.
 *
 * Fail closed: if the estimate cannot be obtained, the call is refused (the driver's stable code:
 * ERR_EXEC_TIMEOUT when planning runs out of time, ERR_SOURCE_UNAVAILABLE, …; ERR_INTERNAL with
 * subject `cost_estimate_unreadable` for a plan without a readable total cost). The statement the
 * estimate is for is exactly the one that runs next (the phase B rewrite, if any, with the same
 * parameters), and the read after it gets only what is left of the statement timeout, so the two
 * together stay inside the call's time limit.
 */
import type { LimitsConfig } from '../config/config-schema.js'
import type { CallLimits, SourceDriver, SqlParam } from '../exec/drivers/driver.js'
import type { ToolGrant } from '../policy/compile-policy.js'
import type { QueryAnalysis } from '../sql/query-analysis.js'
import { fail, ok, type Result } from '../util/result.js'

/**
 * Tools whose statement is costed before it runs. `explain` is not: it runs the same EXPLAIN and
 * returns the plan with its cost, which is how an agent narrows a refused query. `execute` (writes)
 * is bounded by its statement timeout and the user's confirmation of the exact statement.
 */
export const COST_CHECKED_TOOLS: ReadonlySet<string> = new Set(['query'])

/**
 * A plan's JSON is held only to read one number; this caps the memory a huge plan can take (a
 * 20,000-character statement's plan is a few hundred KiB). A bigger plan fails closed.
 */
const PLAN_MAX_BYTES = 8 * 1024 * 1024

/**
 * The ceiling for a call: the strictest of the config's `limits.maxCost` and the grant's (the
 * strictest across granting roles already). Null when neither sets one, or `costCheck: off`.
 */
export function costCeiling(config: Pick<LimitsConfig, 'maxCost' | 'costCheck'>, grant: Pick<ToolGrant, 'maxCost'>): number | null {
  if (config.costCheck === 'off') return null
  const ceiling = Math.min(config.maxCost ?? Infinity, grant.maxCost ?? Infinity)
  return Number.isFinite(ceiling) ? ceiling : null
}

/** The plan's estimated total cost from `EXPLAIN (FORMAT JSON)` output, or null when unreadable. */
export function totalCostOf(plan: unknown): number | null {
  const top: unknown = Array.isArray(plan) ? plan[0] : undefined
  if (typeof top !== 'object' || top === null) return null
  const node: unknown = (top as Record<string, unknown>)['Plan']
  if (typeof node !== 'object' || node === null) return null
  const cost: unknown = (node as Record<string, unknown>)['Total Cost']
  return typeof cost === 'number' && Number.isFinite(cost) && cost >= 0 ? cost : null
}

export interface CostCheck {
  readonly tool: string
  readonly analysis: QueryAnalysis | null
  readonly params: readonly SqlParam[]
  readonly driver: Pick<SourceDriver, 'explain'>
  readonly limits: CallLimits
  readonly maxCost: number | null
  readonly signal?: AbortSignal
}

/**
 * The cost stage. Answers the limits the statement then runs with (the statement timeout less the
 * time the estimate took), unchanged when the call is not costed, or a refusal.
 */
export async function enforceCostCeiling(check: CostCheck): Promise<Result<CallLimits>> {
  const { analysis, limits, maxCost } = check
  // Only SELECT-class statements run a plan over data; EXPLAIN and SHOW through `query` do not.
  if (maxCost === null || !COST_CHECKED_TOOLS.has(check.tool) || analysis === null || analysis.statementClass !== 'select') {
    return ok(limits)
  }
  const startedAt = performance.now()
  const explained = await check.driver.explain({
    sql: analysis.statementText,
    params: check.params,
    limits: { ...limits, maxRows: 1, maxBytes: Math.max(limits.maxBytes, PLAN_MAX_BYTES) },
    ...(check.signal === undefined ? {} : { signal: check.signal }),
  })
  if (!explained.ok) return explained
  const estimatedCost = explained.value.truncated ? null : totalCostOf(explained.value.rows[0]?.[0])
  if (estimatedCost === null) return fail('ERR_INTERNAL', { subject: 'cost_estimate_unreadable' })
  if (estimatedCost > maxCost) return fail('ERR_QUOTA_COST', { data: { estimatedCost, maxCost } })
  const spentMs = performance.now() - startedAt
  return ok({ ...limits, statementTimeoutMs: Math.max(1, Math.floor(limits.statementTimeoutMs - spentMs)) })
}
