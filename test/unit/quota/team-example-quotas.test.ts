/**
 * examples/team.yaml shows every kind of limit, and the support key's 20 calls a minute give a
 * refusal with retryAfterMs within seconds (the quota engine as the server builds it, fake clock).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { loadConfig } from '../../../src/config/load-config.js'
import { createPrincipal } from '../../../src/pipeline/request-context.js'
import { loadPolicy } from '../../../src/policy/load-policy.js'
import { MemoryQuotaStore } from '../../../src/quota/memory-store.js'
import { QuotaEngine } from '../../../src/quota/quota-engine.js'

const TEAM_YAML = fileURLToPath(new URL('../../../examples/team.yaml', import.meta.url))

test('examples/team.yaml: every kind of limit, and support refused on its 21st call with retryAfterMs ≈ 3 s', async () => {
  const loaded = loadConfig({ configFile: TEAM_YAML }, {})
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.message)
  const quotas = loaded.config.quotas
  assert.ok(quotas !== undefined)
  assert.equal(quotas.store, 'memory')
  const d = quotas.defaults
  assert.ok(d?.calls && d.concurrency && d.rows && d.bytes && d.dbTime, 'defaults show calls, concurrency, rows, bytes and dbTime')
  assert.ok(quotas.sources?.demo, 'global concurrency per source with a queue')
  const policy = loadPolicy(loaded.config.policy, ['demo'])
  assert.ok(policy.ok)
  const support = createPrincipal('demo-support', ['support'])
  const grant = policy.policy.authorize(support, 'demo', 'query')
  assert.ok(grant.ok)
  assert.deepEqual(grant.value.quotas?.[0]?.calls, { limit: 20, window: 60_000 })
  assert.ok(grant.value.quotas?.[0]?.tools?.describe_table?.burst === 10, 'a burst is shown')

  let now = 0
  const engine = new QuotaEngine({ store: new MemoryQuotaStore(() => now), ...(d ? { defaults: d } : {}), ...(quotas.sources ? { sources: quotas.sources } : {}) })
  const admit = () => engine.admit({ principal: support, source: 'demo', tool: 'query', grantQuotas: grant.value.quotas ?? [] })
  for (let i = 0; i < 20; i++) {
    const a = await admit()
    assert.ok(a.ok, `call ${i + 1}`)
    a.value.release()
  }
  const refused = await admit()
  assert.equal(refused.ok, false)
  assert.equal(!refused.ok && refused.code, 'ERR_QUOTA_RATE')
  assert.equal(!refused.ok && refused.data?.retryAfterMs, 3_000)
  now += 3_000
  assert.ok((await admit()).ok)
})
