/**
 * A configured source as the pipeline sees it: its driver behind the `SourceDriver` interface, the
 * catalog cache the function policy uses, and the per-source settings the policy needs.
 */
import type { SourceDriver } from '../exec/drivers/driver.js'
import type { CatalogCache } from '../policy/function-policy.js'
import type { RelationCache } from '../policy/relation-cache.js'

export interface SourceHandle {
  readonly name: string
  readonly kind: 'postgres' | 'embedded'
  readonly driver: SourceDriver
  readonly catalogCache: CatalogCache
  /** Phase B relation lookups; created on first use when the opener did not provide one. */
  readonly relationCache?: RelationCache
  readonly searchPath: readonly string[]
  readonly allowFunctions: readonly string[]
}

export interface SourceRegistry {
  readonly defaultSource: string
  get(name: string): SourceHandle | undefined
  names(): readonly string[]
  close(): Promise<void>
}
