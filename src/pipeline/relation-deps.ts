/**
 * Phase B's catalog access for one source: relation lookups through a per-source cache, shared by
 * the pipeline (statements) and the listing tools (what to show).
 */
import { RelationCache } from '../policy/relation-cache.js'
import type { RelationPolicyDeps } from '../policy/relation-policy.js'
import type { SourceHandle } from './source-handle.js'

const relationCaches = new WeakMap<SourceHandle, RelationCache>()
const typeCaches = new WeakMap<SourceHandle, NonNullable<RelationPolicyDeps['typeCache']>>()

/** Relation lookups for phase B, through the source's cache. */
export function relationDeps(source: SourceHandle): RelationPolicyDeps {
  let cache = source.relationCache ?? relationCaches.get(source)
  if (cache === undefined) relationCaches.set(source, (cache = new RelationCache()))
  let typeCache = typeCaches.get(source)
  if (typeCache === undefined) typeCaches.set(source, (typeCache = new Map()))
  return {
    cache,
    typeCache,
    lookupRelations: (names) => source.driver.lookupRelations(names),
    lookupTypes: (names) => source.driver.lookupTypes(names),
  }
}

