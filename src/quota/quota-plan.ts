/**
 * Which limits apply to one call: the config's defaults (per principal, every source) and the quotas
 * of every granting role (per principal and source). Each limit is its own bucket, budget or slot,
 * and a call must fit all of them: several limits combine to the strictest, never the loosest.
 */
import { createHash } from 'node:crypto'
import type { Budget, Bucket } from './quota-store.js'
import type { QuotaSpec, RateSpec } from './quota-schema.js'

export type BudgetKind = 'rows' | 'bytes' | 'dbTime'

export interface PlannedBudget extends Budget {
  readonly kind: BudgetKind
}

export interface QuotaPlan {
  readonly buckets: readonly Bucket[]
  readonly budgets: readonly PlannedBudget[]
  readonly slots: readonly { readonly key: string; readonly limit: number }[]
}

/** A principal id as a key part: as is when short and plain, else a hash (keys stay short and unambiguous). */
export function principalKey(id: string): string {
  return /^[A-Za-z0-9_.@-]{1,64}$/.test(id) ? id : `#${createHash('sha256').update(id).digest('base64url').slice(0, 22)}`
}

export function bucketOf(key: string, rate: RateSpec): Bucket {
  const capacity = rate.burst ?? rate.limit
  return { key: `${key}:${rate.limit}/${rate.window}/${capacity}`, capacity, perMs: rate.limit / rate.window }
}

export function planQuotas(
  defaults: QuotaSpec | undefined,
  grants: readonly QuotaSpec[],
  principal: string,
  source: string,
  tool: string,
): QuotaPlan {
  const p = principalKey(principal)
  const buckets = new Map<string, Bucket>()
  const budgets = new Map<string, PlannedBudget>()
  const slots = new Map<string, number>()
  const add = (scope: string, q: QuotaSpec) => {
    for (const b of [
      q.calls === undefined ? null : bucketOf(`${scope}:calls`, q.calls),
      q.tools?.[tool] === undefined ? null : bucketOf(`${scope}:tool:${tool}`, q.tools[tool]),
    ]) {
      if (b !== null) buckets.set(b.key, b)
    }
    for (const kind of ['rows', 'bytes', 'dbTime'] as const) {
      const spec = q[kind]
      if (spec === undefined) continue
      const key = `${scope}:${kind}:${spec.limit}/${spec.window}`
      budgets.set(key, { kind, key, limit: spec.limit, windowMs: spec.window })
    }
    if (q.concurrency !== undefined) slots.set(scope, Math.min(slots.get(scope) ?? Infinity, q.concurrency))
  }
  if (defaults !== undefined) add(`d:${p}`, defaults)
  for (const g of grants) add(`g:${source}:${p}`, g)
  return {
    buckets: [...buckets.values()],
    budgets: [...budgets.values()],
    slots: [...slots].map(([key, limit]) => ({ key, limit })),
  }
}
