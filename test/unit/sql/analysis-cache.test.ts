import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AnalysisCache } from '../../../src/sql/analysis-cache.js'
import type { QueryAnalysis } from '../../../src/sql/query-analysis.js'

const analysis = (text: string): QueryAnalysis => ({
  statementClass: 'select',
  relations: [{ schema: null, name: 't', sites: [{ location: 14, only: false, aliased: false }] }],
  typeNames: [],
  functions: [],
  attributeNames: [],
  operators: [],
  shownSettings: [],
  maxParamIndex: 0,
  fingerprint: 'f',
  normalizedSql: 'SELECT 1',
  statementText: text,
})

test('evicts the least recently used entry at capacity', () => {
  const cache = new AnalysisCache(2)
  cache.set('a', analysis('a'))
  cache.set('b', analysis('b'))
  assert.ok(cache.get('a'))
  cache.set('c', analysis('c'))
  assert.equal(cache.get('b'), undefined)
  assert.ok(cache.get('a') && cache.get('c'))
  assert.equal(cache.size, 2)
})

test('cached analyses are frozen, so no caller can change what the next call gets', () => {
  const cache = new AnalysisCache()
  cache.set('q', analysis('q'))
  const hit = cache.get('q')
  assert.ok(hit && Object.isFrozen(hit) && Object.isFrozen(hit.relations) && Object.isFrozen(hit.relations[0]))
})

test('long texts are not cached', () => {
  const cache = new AnalysisCache(10, 8)
  cache.set('0123456789', analysis('x'))
  assert.equal(cache.get('0123456789'), undefined)
})
