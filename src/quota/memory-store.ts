/**
 * The memory store: quotas of this process only (stdio, a single replica). Exact, synchronous
 * inside, with an injectable monotonic clock so tests can move time.
 */
import { refilled, waitFor, type Budget, type BudgetUse, type Bucket, type QuotaStore, type TakeVerdict } from './quota-store.js'

interface BucketState {
  tokens: number
  at: number
  /** When the bucket is full again (then it can be forgotten). */
  fullAt: number
}

interface WindowState {
  used: number
  endsAt: number
}

/** Forget full buckets and closed windows every this many operations (bounded memory). */
const SWEEP_EVERY = 4_096

export class MemoryQuotaStore implements QuotaStore {
  readonly kind = 'memory' as const
  readonly leases = null
  private readonly buckets = new Map<string, BucketState>()
  private readonly windows = new Map<string, WindowState>()
  private ops = 0

  private readonly now: () => number

  constructor(now: () => number = () => performance.now()) {
    this.now = now
  }

  take(buckets: readonly Bucket[], need: number, cost: number): Promise<TakeVerdict> {
    return Promise.resolve(this.takeNow(buckets, need, cost))
  }

  takeNow(buckets: readonly Bucket[], need: number, cost: number): TakeVerdict {
    const now = this.now()
    this.maybeSweep(now)
    let wait = 0
    const levels: number[] = []
    for (const bucket of buckets) {
      const state = this.buckets.get(bucket.key)
      const tokens = state === undefined ? bucket.capacity : refilled(state.tokens, now - state.at, bucket)
      levels.push(tokens)
      wait = Math.max(wait, waitFor(tokens, need, bucket))
    }
    if (wait > 0) return { ok: false, retryAfterMs: wait }
    if (cost > 0) {
      buckets.forEach((bucket, i) => {
        const tokens = Math.max(0, (levels[i] ?? bucket.capacity) - cost)
        this.buckets.set(bucket.key, { tokens, at: now, fullAt: now + (bucket.capacity - tokens) / bucket.perMs })
      })
    }
    return { ok: true, retryAfterMs: 0 }
  }

  used(budgets: readonly Budget[]): Promise<readonly BudgetUse[]> {
    const now = this.now()
    return Promise.resolve(
      budgets.map((b) => {
        const w = this.windows.get(b.key)
        return w === undefined || w.endsAt <= now ? { used: 0, resetInMs: 0 } : { used: w.used, resetInMs: Math.ceil(w.endsAt - now) }
      }),
    )
  }

  charge(budgets: readonly Budget[], amounts: readonly number[]): Promise<void> {
    const now = this.now()
    budgets.forEach((b, i) => {
      const amount = amounts[i] ?? 0
      if (amount <= 0) return
      const w = this.windows.get(b.key)
      if (w === undefined || w.endsAt <= now) this.windows.set(b.key, { used: amount, endsAt: now + b.windowMs })
      else w.used += amount
    })
    return Promise.resolve()
  }

  close(): Promise<void> {
    this.buckets.clear()
    this.windows.clear()
    return Promise.resolve()
  }

  /** Entries held (tests: memory stays bounded). */
  get size(): number {
    return this.buckets.size + this.windows.size
  }

  private maybeSweep(now: number): void {
    if (++this.ops % SWEEP_EVERY !== 0) return
    for (const [key, s] of this.buckets) if (s.fullAt <= now) this.buckets.delete(key)
    for (const [key, w] of this.windows) if (w.endsAt <= now) this.windows.delete(key)
  }
}
