/**
 * What the quota engine needs from a store: token buckets (call rates) and fixed-window budgets
 * (rows, bytes, database time). Three implementations: memory (this process), Redis and PostgreSQL
 * (shared by replicas). A store that cannot answer throws; the engine turns that into
 * ERR_QUOTA_STORE_UNAVAILABLE and the call is denied (fail closed).
 */

/** A token bucket: `capacity` tokens, refilled at `perMs` tokens per millisecond. */
export interface Bucket {
  readonly key: string
  readonly capacity: number
  readonly perMs: number
}

/** A fixed window: at most `limit` units per `windowMs`, counted from the window's first charge. */
export interface Budget {
  readonly key: string
  readonly limit: number
  readonly windowMs: number
}

export interface TakeVerdict {
  readonly ok: boolean
  /** When refused: how long until every refusing bucket holds `need` tokens again. */
  readonly retryAfterMs: number
}

export interface BudgetUse {
  readonly used: number
  /** Milliseconds until the window ends (0 when no window is open). */
  readonly resetInMs: number
}

/** A concurrency slot: at most `limit` calls in flight under `key`. */
export interface Slot {
  readonly key: string
  readonly limit: number
}

/** The leases one call holds: its id and the slot keys it holds them under. */
export interface HeldLease {
  readonly lease: string
  readonly keys: readonly string[]
}

/**
 * Concurrency slots shared by replicas, as leases: a lease lives `ttlMs` from when it was taken or
 * last renewed, so the slots of a replica that died come free by themselves after at most `ttlMs`,
 * and a replica renews the leases of its calls in flight well before that.
 */
export interface SlotLeases {
  /** All or nothing: one lease under every slot when each has fewer than `limit` live ones; true when taken. */
  acquire(slots: readonly Slot[], lease: string, ttlMs: number): Promise<boolean>
  /** Extends leases still held by `ttlMs` from now (a lease that already expired stays gone). */
  renew(held: readonly HeldLease[], ttlMs: number): Promise<void>
  release(held: HeldLease): Promise<void>
}

export interface QuotaStore {
  readonly kind: 'memory' | 'redis' | 'postgres'
  /**
   * Concurrency shared by replicas; null for the memory store, whose process-local count is exact
   * (the engine always counts in-process first, and asks the store only when that count admits).
   */
  readonly leases: SlotLeases | null
  /**
   * All or nothing: when every bucket holds at least `need` tokens, takes `cost` from each and
   * answers ok; otherwise takes nothing. `need 1, cost 0` asks without taking (the HTTP edge).
   */
  take(buckets: readonly Bucket[], need: number, cost: number): Promise<TakeVerdict>
  /** How much of each budget's current window is used. */
  used(budgets: readonly Budget[]): Promise<readonly BudgetUse[]>
  /** Adds `amounts[i]` to budget i (opening its window when none is open). Never refuses. */
  charge(budgets: readonly Budget[], amounts: readonly number[]): Promise<void>
  close(): Promise<void>
}

/** Tokens a bucket holds after `elapsedMs` (refilled, capped). */
export function refilled(tokens: number, elapsedMs: number, bucket: Bucket): number {
  return Math.min(bucket.capacity, tokens + Math.max(0, elapsedMs) * bucket.perMs)
}

/** Float slack: 20 per minute is 1/3000 per ms, and 3000 × (1/3000) is not always exactly 1. */
export const TOKEN_EPSILON = 1e-9

/** How long until a bucket holding `tokens` holds `need`. */
export function waitFor(tokens: number, need: number, bucket: Bucket): number {
  return tokens >= need - TOKEN_EPSILON ? 0 : Math.max(1, Math.ceil((need - tokens) / bucket.perMs - TOKEN_EPSILON))
}
