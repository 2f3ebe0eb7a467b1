/**
 * `policy:` in the config is a file path or an inline document. Both go through the same strict
 * policySchema; an unknown key inside an inline policy stops the start with its full path (I8).
 * examples/team.yaml is loaded as shipped, so the runnable example cannot drift from the schema.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { hashApiKey } from '../../../src/auth/api-keys.js'
import { loadConfig } from '../../../src/config/load-config.js'
import { createPrincipal } from '../../../src/pipeline/request-context.js'
import { loadPolicy } from '../../../src/policy/load-policy.js'

const TEAM_YAML = fileURLToPath(new URL('../../../examples/team.yaml', import.meta.url))

const files = (map: Record<string, string>) => (path: string) => {
  const text = map[path]
  if (text === undefined) throw new Error(`no file ${path}`)
  return text
}

const SOURCE = 'sources:\n  shop: { kind: embedded }\n'

const POLICY_YAML = [
  'version: 1',
  'roles:',
  '  support:',
  '    sources:',
  '      shop: { tools: [query], dbRole: sw_support, limits: { maxRows: 20, statementTimeoutMs: 5s } }',
  '',
].join('\n')

const INLINE = [
  SOURCE,
  'policy:',
  '  version: 1',
  '  roles:',
  '    support:',
  '      sources:',
  '        shop: { tools: [query], dbRole: sw_support, limits: { maxRows: 20, statementTimeoutMs: 5s } }',
  '',
].join('\n')

const support = createPrincipal('sam', ['support'])

test('policy as a file path: the config keeps the path, load-policy reads and compiles the file', () => {
  const read = files({ 'c.yaml': `${SOURCE}policy: team-policy.yaml\n`, 'team-policy.yaml': POLICY_YAML })
  const r = loadConfig({ configFile: 'c.yaml' }, {}, read)
  assert.ok(r.ok, !r.ok ? r.message : '')
  assert.equal(r.config.policy, 'team-policy.yaml')
  const p = loadPolicy(r.config.policy, Object.keys(r.config.sources), read)
  assert.ok(p.ok, !p.ok ? p.message : '')
  const grant = p.policy.authorize(support, 'shop', 'query')
  assert.ok(grant.ok)
  assert.equal(grant.value.dbRole, 'sw_support')
  assert.equal(grant.value.maxRows, 20)
  assert.equal(grant.value.statementTimeoutMs, 5_000)
  assert.equal(p.policy.authorize(support, 'shop', 'explain').ok, false)
})

test('policy inline: validated and compiled to the same decisions as the file form', () => {
  const r = loadConfig({ configFile: 'c.yaml' }, {}, files({ 'c.yaml': INLINE }))
  assert.ok(r.ok, !r.ok ? r.message : '')
  assert.equal(typeof r.config.policy, 'object')
  assert.ok(Object.isFrozen(r.config.policy))
  const p = loadPolicy(r.config.policy, Object.keys(r.config.sources), () => assert.fail('an inline policy reads no file'))
  assert.ok(p.ok, !p.ok ? p.message : '')
  const grant = p.policy.authorize(support, 'shop', 'query')
  assert.ok(grant.ok)
  assert.deepEqual(
    { dbRole: grant.value.dbRole, maxRows: grant.value.maxRows, statementTimeoutMs: grant.value.statementTimeoutMs },
    { dbRole: 'sw_support', maxRows: 20, statementTimeoutMs: 5_000 },
  )
  assert.deepEqual(p.policy.dbRoles(), [{ source: 'shop', dbRole: 'sw_support' }])
})

test('an unknown key inside an inline policy stops the start with its full path and the key', () => {
  const misspelled = INLINE.replace('dbRole: sw_support', 'dbrole: sw_support')
  const r = loadConfig({ configFile: 'c.yaml' }, {}, files({ 'c.yaml': misspelled }))
  assert.ok(!r.ok)
  assert.match(r.message, /^policy\.roles\.support\.sources\.shop: .*dbrole/)

  const topLevel = loadConfig({ configFile: 'c.yaml' }, {}, files({ 'c.yaml': INLINE.replace('  version: 1', '  version: 1\n  notAPolicyKey: {}') }))
  assert.ok(!topLevel.ok)
  assert.match(topLevel.message, /^policy: .*notAPolicyKey/)
})

test('bad inline policies and bad policy values are refused with a message naming the key', () => {
  const version = loadConfig({ configFile: 'c.yaml' }, {}, files({ 'c.yaml': INLINE.replace('version: 1', 'version: 2') }))
  assert.ok(!version.ok)
  assert.match(version.message, /^policy\.version: /)

  const tool = loadConfig({ configFile: 'c.yaml' }, {}, files({ 'c.yaml': INLINE.replace('tools: [query]', 'tools: [drop_table]') }))
  assert.ok(!tool.ok)
  assert.match(tool.message, /^policy\.roles\.support\.sources\.shop\.tools\.0: /)

  for (const value of ['5', '[a.yaml]', '""', 'true']) {
    const r = loadConfig({ configFile: 'c.yaml' }, {}, files({ 'c.yaml': `${SOURCE}policy: ${value}\n` }))
    assert.ok(!r.ok, value)
    assert.match(r.message, /^policy: expected a policy file path or an inline policy/, value)
  }
})

test('an inline policy naming a source the config lacks is refused, naming the key', () => {
  const r = loadConfig({ configFile: 'c.yaml' }, {}, files({ 'c.yaml': INLINE.replace('        shop:', '        shopp:') }))
  assert.ok(r.ok, !r.ok ? r.message : '')
  const p = loadPolicy(r.config.policy, Object.keys(r.config.sources))
  assert.ok(!p.ok)
  assert.equal(p.message, 'policy.roles.support.sources.shopp: no such source in the config')
})

test('examples/team.yaml loads as shipped: embedded source, loopback HTTP, two hashed demo keys, inline policy', () => {
  const r = loadConfig({ configFile: TEAM_YAML }, {})
  assert.ok(r.ok, !r.ok ? r.message : '')
  const { config } = r
  assert.equal(config.sources.demo?.kind, 'embedded')
  assert.equal(config.defaultSource, 'demo')
  assert.equal(config.http?.listen, '127.0.0.1:8765')
  assert.deepEqual(
    config.auth.apiKeys.map((k) => ({ principal: k.principal, roles: k.roles, hash: k.hash, claims: k.claims })),
    [
      { principal: 'demo-analyst', roles: ['analyst'], hash: hashApiKey('demo-analyst-key'), claims: undefined },
      { principal: 'demo-support', roles: ['support'], hash: hashApiKey('demo-support-key'), claims: { region: 'EU' } },
    ],
  )
  // The demo keys are documented as demo values in the file itself.
  assert.match(readFileSync(TEAM_YAML, 'utf8'), /DEMO KEYS, NEVER FOR PRODUCTION/)

  const p = loadPolicy(config.policy, Object.keys(config.sources))
  assert.ok(p.ok, !p.ok ? p.message : '')
  const analyst = createPrincipal('demo-analyst', ['analyst'])
  const sup = createPrincipal('demo-support', ['support'], { region: 'EU' })
  assert.equal(p.policy.visibleTools(analyst).size, 5)
  assert.deepEqual([...p.policy.visibleTools(sup)].sort(), ['describe_table', 'list_tables', 'query'])
  const a = p.policy.authorize(analyst, 'demo', 'explain')
  assert.ok(a.ok && a.value.dbRole === 'demo_analyst')
  const s = p.policy.authorize(sup, 'demo', 'query')
  assert.ok(s.ok && s.value.dbRole === 'demo_support' && s.value.maxRows === 100)
})

test('--http overrides http.listen from the config (how the e2e test gets a free port)', () => {
  const r = loadConfig({ configFile: TEAM_YAML, http: '127.0.0.1:0' }, {})
  assert.ok(r.ok, !r.ok ? r.message : '')
  assert.equal(r.config.http?.listen, '127.0.0.1:0')
})
