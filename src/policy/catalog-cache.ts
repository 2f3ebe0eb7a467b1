/**
 * Per-source cache of catalog lookups (pg_proc and pg_operator rows by name), so that an agent
 * repeating a query does no catalog round trip. One instance per source: the same name resolves to
 * different functions in different databases.
 *
 * Negative answers are cached too ("no function of this name"): a name with no candidate is
 * denied, so a stale negative entry can only deny a function created in the last TTL, never allow
 * one. A stale positive entry can, for up to one TTL, allow a function that was just replaced by a
 * VOLATILE or SECURITY DEFINER one; the read-only transaction and the role's privileges still hold
 * (I2), and the TTL is short for that reason. The entry count is capped, because names come from
 * callers and each distinct one would otherwise stay in memory.
 */
import type { FunctionInfo, OperatorInfo } from '../exec/drivers/driver.js'

export interface CatalogCacheOptions {
  /** How long an entry answers without asking the catalog again. Default 60 s. */
  readonly ttlMs?: number
  /** Injectable clock for tests. Default `Date.now`. */
  readonly now?: () => number
  /** Entries per kind (functions, operators) before the oldest is dropped. Default 10,000. */
  readonly maxEntries?: number
}

interface Entry<T> {
  readonly expiresAt: number
  readonly rows: readonly T[]
}

const EMPTY: readonly never[] = Object.freeze([])

export class CatalogCache {
  readonly #functions = new Map<string, Entry<FunctionInfo>>()
  readonly #operators = new Map<string, Entry<OperatorInfo>>()
  readonly #ttlMs: number
  readonly #now: () => number
  readonly #maxEntries: number

  constructor(options: CatalogCacheOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 60_000
    this.#now = options.now ?? Date.now
    this.#maxEntries = options.maxEntries ?? 10_000
  }

  /** Cached candidates for a function name (possibly none), or undefined when not cached. */
  functions(name: string): readonly FunctionInfo[] | undefined {
    return this.#get(this.#functions, name)
  }

  /** Cached candidates for an operator name (possibly none), or undefined when not cached. */
  operators(name: string): readonly OperatorInfo[] | undefined {
    return this.#get(this.#operators, name)
  }

  /** Stores the answer to one lookup: every asked name gets its rows, or an empty list. */
  storeFunctions(asked: readonly string[], rows: readonly FunctionInfo[]): void {
    this.#store(this.#functions, asked, rows)
  }

  storeOperators(asked: readonly string[], rows: readonly OperatorInfo[]): void {
    this.#store(this.#operators, asked, rows)
  }

  clear(): void {
    this.#functions.clear()
    this.#operators.clear()
  }

  get size(): number {
    return this.#functions.size + this.#operators.size
  }

  #get<T>(map: Map<string, Entry<T>>, name: string): readonly T[] | undefined {
    const entry = map.get(name)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= this.#now()) {
      map.delete(name)
      return undefined
    }
    return entry.rows
  }

  #store<T extends { readonly name: string }>(map: Map<string, Entry<T>>, asked: readonly string[], rows: readonly T[]): void {
    const expiresAt = this.#now() + this.#ttlMs
    const byName = groupByName(rows)
    for (const name of asked) {
      map.delete(name)
      if (map.size >= this.#maxEntries) {
        const oldest = map.keys().next()
        if (oldest.done !== true) map.delete(oldest.value)
      }
      map.set(name, { expiresAt, rows: byName.get(name) ?? EMPTY })
    }
  }
}

/** Rows grouped by their `name`. */
export function groupByName<T extends { readonly name: string }>(rows: readonly T[]): Map<string, T[]> {
  const byName = new Map<string, T[]>()
  for (const row of rows) {
    const list = byName.get(row.name)
    if (list === undefined) byName.set(row.name, [row])
    else list.push(row)
  }
  return byName
}
