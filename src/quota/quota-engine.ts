/**
 * The quota stage (DESIGN §2 step 6): after policy phase A has named the principal, source and
 * tool, and before the SQL is analysed. In order, cheapest first:
 *
 *   1. per-principal concurrency (counted in this process first; with a shared store, then as
 *      leases in the store, so the limit holds across replicas; refused at once above it),
 *   2. budgets (rows, bytes, database time): is the current window already used up?
 *   3. rates (calls per principal, per tool): token buckets, all or nothing,
 *   4. the source's global concurrency (this process: bounded FIFO queue with a deadline; with a
 *      shared store, then a lease in the store, so the limit holds over every replica).
 *
 * After the tool ran, the pipeline charges what the call actually used (rows, bytes, measured
 * database time) and releases the slots, always (finally). A store that cannot answer denies the
 * call: ERR_QUOTA_STORE_UNAVAILABLE (fail closed). Refusals where waiting helps carry
 * `data.retryAfterMs`. Reference: docs/quotas.md.
 */
import { randomBytes } from 'node:crypto'
import type { Principal } from '../pipeline/request-context.js'
import { fail, ok, type Fail, type Result } from '../util/result.js'
import { principalRefusal, PrincipalCounter, SourceGate, type Release } from './concurrency-gate.js'
import { bucketOf, planQuotas, principalKey, type BudgetKind, type PlannedBudget } from './quota-plan.js'
import type { QuotaSpec, SourceConcurrencySpec } from './quota-schema.js'
import type { HeldLease, QuotaStore, SlotLeases } from './quota-store.js'

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
  /** Idempotent; resolves once the slots are back (it never rejects). */
  release(): Promise<void> | void
}

const CODES: Record<BudgetKind, Fail['code']> = { rows: 'ERR_QUOTA_ROWS', bytes: 'ERR_QUOTA_BYTES', dbTime: 'ERR_QUOTA_DB_TIME' }
const NO_NEEDS: ReadonlySet<BudgetKind> = new Set()

export interface QuotaEngineOptions {
  readonly store: QuotaStore
  readonly defaults?: QuotaSpec
  readonly sources?: Readonly<Record<string, SourceConcurrencySpec>>
  /** How long a concurrency lease in a shared store outlives its last renewal (default 30 s). */
  readonly leaseTtlMs?: number
}

/** Backoff of a call waiting for a source slot held on other replicas. */
const SOURCE_POLL_MIN_MS = 10
const SOURCE_POLL_MAX_MS = 100

/** The default lease lifetime: a replica that dies holds its principals' slots at most this long. */
export const LEASE_TTL_MS = 30_000

export class QuotaEngine {
  readonly store: QuotaStore
  private readonly defaults: QuotaSpec | undefined
  private readonly gates = new Map<string, SourceGate>()
  private readonly principals = new PrincipalCounter()
  private readonly leases: SlotLeases | null
  /** Leases of the calls in flight, renewed every third of their lifetime. */
  private readonly held = new Map<string, HeldLease>()
  /** Leases whose release failed (the store was unreachable): retried until they would have expired. */
  private readonly unreleased = new Map<string, { readonly lease: HeldLease; readonly until: number }>()
  private readonly leaseTtlMs: number
  private readonly leasePrefix = randomBytes(9).toString('base64url')
  private leaseSeq = 0
  private renewer: ReturnType<typeof setInterval> | undefined

  constructor(options: QuotaEngineOptions) {
    this.store = options.store
    this.leases = options.store.leases
    this.leaseTtlMs = options.leaseTtlMs ?? LEASE_TTL_MS
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
    const shared: HeldLease[] = []
    const releaseAll = (): Promise<void> | void => {
      for (const r of releases.splice(0)) r()
      const leases = shared.splice(0)
      if (leases.length > 0) return Promise.all(leases.map((l) => this.releaseLease(l))).then(() => undefined)
    }
    try {
      if (this.leases !== null && plan.slots.length > 0) {
        const lease = this.newLease(plan.slots.map((s) => s.key))
        if (!(await this.leases.acquire(plan.slots, lease.lease, this.leaseTtlMs))) {
          await releaseAll()
          return principalRefusal()
        }
        shared.push(this.hold(lease))
      }
      let maxRows = Infinity
      let maxBytes = Infinity
      if (plan.budgets.length > 0) {
        const uses = await this.store.used(plan.budgets)
        for (const [i, b] of plan.budgets.entries()) {
          const use = uses[i] ?? { used: 0, resetInMs: 0 }
          if (use.used >= b.limit) {
            await releaseAll()
            return fail(CODES[b.kind], { data: { retryAfterMs: Math.max(1, use.resetInMs) } })
          }
          if (b.kind === 'rows') maxRows = Math.min(maxRows, b.limit - use.used)
          if (b.kind === 'bytes') maxBytes = Math.min(maxBytes, b.limit - use.used)
        }
      }
      if (plan.buckets.length > 0) {
        const taken = await this.store.take(plan.buckets, 1, 1)
        if (!taken.ok) {
          await releaseAll()
          return fail('ERR_QUOTA_RATE', { data: { retryAfterMs: Math.max(1, taken.retryAfterMs) } })
        }
      }
      const gate = this.gates.get(req.source)
      if (gate !== undefined) {
        const queuedAt = performance.now()
        const entered = await gate.acquire(req.signal)
        if (!entered.ok) {
          await releaseAll()
          return entered
        }
        releases.push(entered.value)
        if (this.leases !== null) {
          const lease = await this.sourceLease(this.leases, req.source, gate, queuedAt, req.signal)
          if (!lease.ok) {
            await releaseAll()
            return lease
          }
          shared.push(this.hold(lease.value))
        }
      }
      return ok(this.admission(plan.budgets, maxRows, maxBytes, releaseAll))
    } catch (error) {
      await releaseAll()
      return fail('ERR_QUOTA_STORE_UNAVAILABLE', { data: { retryAfterMs: STORE_RETRY_MS }, cause: error })
    }
  }

  /**
   * The source's slot over every replica: a lease under `src:<source>` with the gate's limit. When
   * the other replicas hold every slot, the call waits as it would in the local queue: only when
   * the gate has a queue, and until its `queueTimeout` (counted from when the call asked the local
   * gate), polling the store with a short backoff. Across replicas the wait is not FIFO.
   */
  private async sourceLease(
    leases: SlotLeases,
    source: string,
    gate: SourceGate,
    queuedAt: number,
    signal: AbortSignal | undefined,
  ): Promise<Result<HeldLease>> {
    const slot = { key: `src:${source}`, limit: gate.maxConcurrency }
    const lease = this.newLease([slot.key])
    let pause = SOURCE_POLL_MIN_MS
    for (;;) {
      if (await leases.acquire([slot], lease.lease, this.leaseTtlMs)) return ok(lease)
      if (gate.queue === 0) return gate.queueFull()
      const left = queuedAt + gate.queueTimeoutMs - performance.now()
      if (left <= 0) return gate.queueTimedOut()
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)))
      if (signal?.aborted === true) return fail('ERR_EXEC_CANCELLED')
      pause = Math.min(pause * 2, SOURCE_POLL_MAX_MS)
    }
  }

  private newLease(keys: readonly string[]): HeldLease {
    return { lease: `${this.leasePrefix}:${++this.leaseSeq}`, keys }
  }

  /** Keeps a taken lease alive (renewed) until it is released. */
  private hold(lease: HeldLease): HeldLease {
    this.held.set(lease.lease, lease)
    this.renewing()
    return lease
  }

  /** Concurrency leases held in the shared store by calls in flight here (tests and metrics). */
  get leasesHeld(): number {
    return this.held.size
  }

  /** Leases whose release failed and is being retried (tests and metrics). */
  get leasesUnreleased(): number {
    return this.unreleased.size
  }

  /**
   * Gives a lease back. If the store cannot answer, the release is retried on every renewal tick
   * until it succeeds or the lease has expired anyway, so a store outage does not leave a principal
   * refused for a whole lease lifetime after the store returns. The caller's call is not failed.
   */
  private async releaseLease(lease: HeldLease): Promise<void> {
    this.held.delete(lease.lease)
    try {
      await this.leases?.release(lease)
    } catch {
      this.unreleased.set(lease.lease, { lease, until: performance.now() + this.leaseTtlMs })
      this.renewing()
    }
    if (this.held.size === 0 && this.unreleased.size === 0) this.stopRenewing()
  }

  private renewing(): void {
    if (this.renewer !== undefined) return
    this.renewer = setInterval(() => this.tick(), Math.max(10, Math.floor(this.leaseTtlMs / 3)))
    this.renewer.unref()
  }

  private tick(): void {
    if (this.held.size === 0 && this.unreleased.size === 0) return this.stopRenewing()
    // A failed renewal is retried on the next tick; leases outlive two missed ticks.
    if (this.held.size > 0) this.leases?.renew([...this.held.values()], this.leaseTtlMs).catch(() => undefined)
    const now = performance.now()
    for (const [id, { lease, until }] of this.unreleased) {
      if (until <= now) {
        this.unreleased.delete(id)
        continue
      }
      this.leases
        ?.release(lease)
        .then(() => this.unreleased.delete(id))
        .catch(() => undefined)
    }
  }

  private stopRenewing(): void {
    if (this.renewer === undefined) return
    clearInterval(this.renewer)
    this.renewer = undefined
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
    this.stopRenewing()
    return this.store.close()
  }

  private admission(budgets: readonly PlannedBudget[], maxRows: number, maxBytes: number, release: () => Promise<void> | void): Admission {
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
