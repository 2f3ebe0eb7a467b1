/**
 * The quota stage (DESIGN §2 step 6): after policy phase A has named the principal, source and
 * tool, and before the SQL is analysed. In order, cheapest first:
 *
 *   1. per-principal concurrency (this process; refused at once above it),
 *   2. budgets (rows, bytes, database time): is the current window already used up?
 *   3. rates (calls per principal, per tool): token buckets, all or nothing,
 *   4. the source's global concurrency (this process; bounded FIFO queue with a deadline).
 *
 * After the tool ran, the pipeline charges what the call actually used (rows, bytes, measured
 * database time) and releases the slots, always (finally). A store that cannot answer denies the
 * call: ERR_QUOTA_STORE_UNAVAILABLE (fail closed). Refusals where waiting helps carry
 * `data.retryAfterMs`. Reference: docs/quotas.md.
 */
import type { Principal } from '../pipeline/request-context.js'
import { fail, ok, type Fail, type Result } from '../util/result.js'
import { PrincipalCounter, SourceGate, type Release } from './concurrency-gate.js'
import { bucketOf, planQuotas, principalKey, type BudgetKind, type PlannedBudget } from './quota-plan.js'
import type { QuotaSpec, SourceConcurrencySpec } from './quota-schema.js'
import type { QuotaStore } from './quota-store.js'

/** The retry hint when the store is down: it is probed again on the next call. */
export const STORE_RETRY_MS = 1_000

export interface QuotaRequest {
  readonly principal: Principal
  readonly source: string
  readonly tool: string
  /** The quotas of every role that granted this call (ToolGrant.quotas). */
  readonly grantQuotas: readonly QuotaSpec[]
  readonly signal?: AbortSignal
}

export interface CallUsage {
  readonly rows: number
  readonly bytes: number
  readonly dbTimeMs: number
}

export interface Admission {
  /** Rows and bytes the call may still return under its budgets (Infinity: no budget). */
  readonly maxRows: number
  readonly maxBytes: number
  /** True when a budget applies: the pipeline measures the call and charges it. */
  readonly metered: boolean
  /** Which usage the budgets need (bytes are measured only when a bytes budget applies). */
  readonly needs: ReadonlySet<BudgetKind>
  charge(usage: CallUsage): Promise<Result<void>>
  /** Idempotent. */
  release(): void
}

const CODES: Record<BudgetKind, Fail['code']> = { rows: 'ERR_QUOTA_ROWS', bytes: 'ERR_QUOTA_BYTES', dbTime: 'ERR_QUOTA_DB_TIME' }
const NO_NEEDS: ReadonlySet<BudgetKind> = new Set()

export interface QuotaEngineOptions {
  readonly store: QuotaStore
  readonly defaults?: QuotaSpec
  readonly sources?: Readonly<Record<string, SourceConcurrencySpec>>
}

export class QuotaEngine {
  readonly store: QuotaStore
  private readonly defaults: QuotaSpec | undefined
  private readonly gates = new Map<string, SourceGate>()
  private readonly principals = new PrincipalCounter()

  constructor(options: QuotaEngineOptions) {
    this.store = options.store
    this.defaults = options.defaults
    for (const [name, spec] of Object.entries(options.sources ?? {})) {
      this.gates.set(name, new SourceGate(spec.maxConcurrency, spec.queue, spec.queueTimeout))
    }
  }

  /** The source's gate (tests and metrics). */
  gate(source: string): SourceGate | undefined {
    return this.gates.get(source)
  }

  async admit(req: QuotaRequest): Promise<Result<Admission>> {
    const plan = planQuotas(this.defaults, req.grantQuotas, req.principal.id, req.source, req.tool)
    const slot = this.principals.acquire(plan.slots)
    if (!slot.ok) return slot
    const releases: Release[] = [slot.value]
    const releaseAll = () => {
      for (const r of releases.splice(0)) r()
    }
    try {
      let maxRows = Infinity
      let maxBytes = Infinity
      if (plan.budgets.length > 0) {
        const uses = await this.store.used(plan.budgets)
        for (const [i, b] of plan.budgets.entries()) {
          const use = uses[i] ?? { used: 0, resetInMs: 0 }
          if (use.used >= b.limit) {
            releaseAll()
            return fail(CODES[b.kind], { data: { retryAfterMs: Math.max(1, use.resetInMs) } })
          }
          if (b.kind === 'rows') maxRows = Math.min(maxRows, b.limit - use.used)
          if (b.kind === 'bytes') maxBytes = Math.min(maxBytes, b.limit - use.used)
        }
      }
      if (plan.buckets.length > 0) {
        const taken = await this.store.take(plan.buckets, 1, 1)
        if (!taken.ok) {
          releaseAll()
          return fail('ERR_QUOTA_RATE', { data: { retryAfterMs: Math.max(1, taken.retryAfterMs) } })
        }
      }
      const gate = this.gates.get(req.source)
      if (gate !== undefined) {
        const entered = await gate.acquire(req.signal)
        if (!entered.ok) {
          releaseAll()
          return entered
        }
        releases.push(entered.value)
      }
      return ok(this.admission(plan.budgets, maxRows, maxBytes, releaseAll))
    } catch (error) {
      releaseAll()
      return fail('ERR_QUOTA_STORE_UNAVAILABLE', { data: { retryAfterMs: STORE_RETRY_MS }, cause: error })
    }
  }

  /**
   * The HTTP edge's check, before dispatch: is the principal's calls bucket (`defaults.calls`)
   * empty? Takes nothing (the pipeline takes the token); refuses with the wait when it is empty.
   */
  async edgeCheck(principal: Principal): Promise<Result<void>> {
    const calls = this.defaults?.calls
    if (calls === undefined) return ok(undefined)
    try {
      const verdict = await this.store.take([bucketOf(`d:${principalKey(principal.id)}:calls`, calls)], 1, 0)
      return verdict.ok ? ok(undefined) : fail('ERR_QUOTA_RATE', { data: { retryAfterMs: Math.max(1, verdict.retryAfterMs) } })
    } catch (error) {
      return fail('ERR_QUOTA_STORE_UNAVAILABLE', { data: { retryAfterMs: STORE_RETRY_MS }, cause: error })
    }
  }

  /** True when the HTTP edge has something to check. */
  get checksAtEdge(): boolean {
    return this.defaults?.calls !== undefined
  }

  close(): Promise<void> {
    return this.store.close()
  }

  private admission(budgets: readonly PlannedBudget[], maxRows: number, maxBytes: number, release: () => void): Admission {
    const store = this.store
    const needs = budgets.length === 0 ? NO_NEEDS : new Set(budgets.map((b) => b.kind))
    return {
      maxRows,
      maxBytes,
      metered: budgets.length > 0,
      needs,
      release,
      async charge(usage: CallUsage): Promise<Result<void>> {
        if (budgets.length === 0) return ok(undefined)
        const amounts = budgets.map((b) => (b.kind === 'rows' ? usage.rows : b.kind === 'bytes' ? usage.bytes : usage.dbTimeMs))
        try {
          await store.charge(budgets, amounts)
          return ok(undefined)
        } catch (error) {
          return fail('ERR_QUOTA_STORE_UNAVAILABLE', { data: { retryAfterMs: STORE_RETRY_MS }, cause: error })
        }
      },
    }
  }
}
