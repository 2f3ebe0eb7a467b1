/** Quotas in the config and the policy are strict (I8): unknown keys and bad values stop the start. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfig } from '../../../src/config/load-config.js'
import { policySchema } from '../../../src/policy/policy-schema.js'

const load = (yaml: string) => loadConfig({ configFile: 'c.yaml' }, {}, () => `sources:\n  main: { kind: embedded }\n${yaml}`)

test('config quotas: defaults and stores parse; durations become milliseconds', () => {
  const r = load('quotas:\n  store: redis\n  redis: { url: "redis://:secret@127.0.0.1:6379" }\n  defaults: { calls: { limit: 5, window: 1m, burst: 2 }, dbTime: { limit: 500ms, window: 1h } }\n  sources: { main: { maxConcurrency: 2, queue: 3, queueTimeout: 2s } }\n')
  assert.ok(r.ok, r.ok ? '' : r.message)
  assert.deepEqual(r.config.quotas?.defaults?.calls, { limit: 5, window: 60_000, burst: 2 })
  assert.deepEqual(r.config.quotas?.defaults?.dbTime, { limit: 500, window: 3_600_000 })
  assert.deepEqual(r.config.quotas?.sources?.main, { maxConcurrency: 2, queue: 3, queueTimeout: 2_000 })
  assert.equal(JSON.stringify(r.config).includes('secret'), false, 'the store URL is not enumerable')
  assert.equal(r.config.quotas?.leaseTtl, 30_000, 'concurrency leases live 30 s by default')
  const ttl = load('quotas:\n  leaseTtl: 10s\n')
  assert.ok(ttl.ok, ttl.ok ? '' : ttl.message)
  assert.equal(ttl.config.quotas?.leaseTtl, 10_000)
})

for (const [label, yaml, message] of [
  ['an unknown key', 'quotas:\n  defaults: { calls: { limit: 5, window: 1m, burts: 2 } }\n', /burts/],
  ['redis without a url', 'quotas:\n  store: redis\n', /quotas\.redis/],
  ['postgres without a url', 'quotas:\n  store: postgres\n', /quotas\.postgres/],
  ['an unknown store', 'quotas:\n  store: etcd\n', /quotas\.store/],
  ['a zero limit', 'quotas:\n  defaults: { calls: { limit: 0, window: 1m } }\n', /limit/],
  ['a bad window', 'quotas:\n  defaults: { rows: { limit: 5, window: soon } }\n', /window/],
  ['a window over a day', 'quotas:\n  defaults: { rows: { limit: 5, window: 25h } }\n', /window/],
  ['an unknown source', 'quotas:\n  sources: { other: { maxConcurrency: 1 } }\n', /quotas\.sources\.other/],
  ['a lease TTL under a second', 'quotas:\n  leaseTtl: 500ms\n', /leaseTtl/],
  ['a lease TTL over ten minutes', 'quotas:\n  leaseTtl: 11m\n', /leaseTtl/],
] as const) {
  test(`config quotas: ${label} stops the start`, () => {
    const r = load(yaml)
    assert.equal(r.ok, false)
    assert.match(r.ok ? '' : r.message, message)
  })
}

test('policy quotas: strict, per grant', () => {
  const base = (quotas: unknown) => ({ version: 1, roles: { r: { sources: { '*': { quotas } } } } })
  assert.ok(policySchema.safeParse(base({ calls: { limit: 1, window: '1s' }, concurrency: 1, tools: { query: { limit: 2, window: 1000 } } })).success)
  assert.equal(policySchema.safeParse(base({ calls: { limit: 1, window: '1s' }, rate: 3 })).success, false)
  assert.equal(policySchema.safeParse(base({ concurrency: 0 })).success, false)
  assert.equal(policySchema.safeParse(base({ tools: { Query: { limit: 1, window: '1s' } } })).success, false)
})
