import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { canonicalJson, canonicalRecordJson } from '../../../src/audit/canonical-json.js'
import { callEvent } from '../../helpers/audit-events.js'

test('canonical JSON sorts keys at every depth, drops undefined, and refuses what it cannot encode exactly', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null }, e: undefined, f: 'x' }), '{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1,"f":"x"}')
  assert.throws(() => canonicalJson({ a: Number.NaN }))
  assert.throws(() => canonicalJson({ a: Infinity }))
  assert.throws(() => canonicalJson({ a: 1n }))
})

test('the writer’s fast path gives exactly the canonical text, for every record shape', () => {
  const record = (over: Record<string, unknown>) => ({ v: 1, chain: 'c', seq: 3, time: 't', prev: 'p', alg: 'sha256', durability: 'write', kind: 'call', ...callEvent(1), ...over })
  for (const over of [{}, { sql: 'SELECT 1', params: ['a', 1, true, null] }, { client: null, trace_id: 'ab' }, { client: { version: '2', name: 'n' } }]) {
    const r = record(over)
    assert.equal(canonicalRecordJson(r), canonicalJson(r))
  }
  fc.assert(
    fc.property(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 8 }), (value) => {
      const clean = JSON.parse(JSON.stringify(value)) as Record<string, unknown>
      assert.equal(canonicalRecordJson(clean), canonicalJson(clean))
    }),
    { numRuns: 2_000 },
  )
})
