/**
 * An LRU of accepted analyses keyed by the exact SQL text. Analysis is a pure function of the text
 * (and of limits fixed for the process), so a hit is as good as a parse, and it takes the ~100 µs
 * synchronous parse off the hot path of agents that repeat a query with new parameters. Only
 * accepted analyses of short texts are kept; refusals are recomputed every time. Entries are frozen.
 */
import type { QueryAnalysis } from './query-analysis.js'

export class AnalysisCache {
  readonly #entries = new Map<string, QueryAnalysis>()
  readonly #capacity: number
  readonly #maxTextLength: number

  constructor(capacity = 1_000, maxTextLength = 4_096) {
    this.#capacity = capacity
    this.#maxTextLength = maxTextLength
  }

  get(text: string): QueryAnalysis | undefined {
    const hit = this.#entries.get(text)
    if (hit !== undefined) {
      this.#entries.delete(text)
      this.#entries.set(text, hit)
    }
    return hit
  }

  set(text: string, analysis: QueryAnalysis): void {
    if (text.length > this.#maxTextLength || this.#capacity === 0) return
    this.#entries.delete(text)
    this.#entries.set(text, deepFreezeAnalysis(analysis))
    if (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next()
      if (!oldest.done) this.#entries.delete(oldest.value)
    }
  }

  get size(): number {
    return this.#entries.size
  }
}

function deepFreezeAnalysis(analysis: QueryAnalysis): QueryAnalysis {
  for (const relation of analysis.relations) {
    for (const site of relation.sites) Object.freeze(site)
    Object.freeze(relation.sites)
  }
  for (const list of [
    analysis.relations,
    analysis.functions,
    analysis.operators,
    analysis.typeNames,
    analysis.attributeNames,
    analysis.shownSettings,
  ]) {
    for (const item of list) if (typeof item === 'object') Object.freeze(item)
    Object.freeze(list)
  }
  return Object.freeze(analysis)
}
