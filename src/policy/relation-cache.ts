/**
 * Per-source cache of relation lookups (what a name resolves to, and what reading it reads), so a
 * repeated query does no catalog round trip in phase B. Same trade-off as catalog-cache.ts: a
 * short TTL, and a cap on entries because names come from callers. A stale entry can at worst
 * describe a relation as it was up to one TTL ago; the mapped database role's grants still hold.
 */
import type { RelationInfo, RelationName } from '../exec/drivers/driver.js'

export interface RelationCacheOptions {
  readonly ttlMs?: number
  readonly now?: () => number
  readonly maxEntries?: number
}

export class RelationCache {
  readonly #entries = new Map<string, { readonly expiresAt: number; readonly info: RelationInfo | null }>()
  readonly #ttlMs: number
  readonly #now: () => number
  readonly #maxEntries: number

  constructor(options: RelationCacheOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 60_000
    this.#now = options.now ?? Date.now
    this.#maxEntries = options.maxEntries ?? 10_000
  }

  /** The cached answer (possibly "nothing of that name"), or undefined when not cached. */
  get(name: RelationName): RelationInfo | null | undefined {
    const key = keyOf(name)
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(key)
      return undefined
    }
    return entry.info
  }

  set(name: RelationName, info: RelationInfo | null): void {
    const key = keyOf(name)
    this.#entries.delete(key)
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
    this.#entries.set(key, { expiresAt: this.#now() + this.#ttlMs, info })
  }
}

function keyOf(name: RelationName): string {
  return `${name.schema ?? ''}\u0000${name.name}`
}
