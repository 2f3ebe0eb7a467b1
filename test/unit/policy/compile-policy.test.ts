import { test } from 'node:test'
import assert from 'node:assert/strict'
import { allowAllPolicy } from '../../../src/policy/compile-policy.js'
import { loadPolicy } from '../../../src/policy/load-policy.js'

const POLICY = `
version: 1
principals:
  carol: [analyst, support]
roles:
  analyst:
    sources:
      shop:
        dbRole: sw_analyst
        limits: { maxRows: 200, statementTimeoutMs: 10s }
  support:
    sources:
      shop:
        tools: [query, list_tables]
        dbRole: sw_support
        limits: { maxRows: 20 }
  viewer:
    sources:
      "*":
        tools: [list_schemas]
`
const load = (text: string, sources = ['shop', 'other']) => loadPolicy('p.yaml', sources, () => text)
const policy = () => {
  const r = load(POLICY)
  assert.ok(r.ok, r.ok ? '' : r.message)
  return r.policy
}
const who = (id: string, roles: string[]) => ({ id, roles })

test('phase A: a role grants tools on a source, with its database role and limits', () => {
  const p = policy()
  const a = p.authorize(who('alice', ['analyst']), 'shop', 'explain')
  assert.deepEqual(a.ok && a.value, { dbRole: 'sw_analyst', maxRows: 200, statementTimeoutMs: 10_000, relations: null, functions: new Set(), writeClasses: new Set() })
  const s = p.authorize(who('bob', ['support']), 'shop', 'query')
  assert.deepEqual(s.ok && s.value, { dbRole: 'sw_support', maxRows: 20, statementTimeoutMs: null, relations: null, functions: new Set(), writeClasses: new Set() })
})

test('phase A refuses tools, sources and roles not granted, the same way whether the source exists or not', () => {
  const p = policy()
  for (const [principal, source, tool] of [
    [who('bob', ['support']), 'shop', 'explain'],
    [who('bob', ['support']), 'other', 'query'],
    [who('bob', ['support']), 'no_such_source', 'query'],
    [who('eve', ['intruder']), 'shop', 'query'],
    [who('eve', []), 'shop', 'query'],
  ] as const) {
    const r = p.authorize(principal, source, tool)
    assert.ok(!r.ok && r.code === 'ERR_POLICY_DENIED' && r.subject === undefined, `${principal.id} ${source} ${tool}`)
  }
})

test('"*" grants every source; principals gain roles from the policy', () => {
  const p = policy()
  assert.ok(p.authorize(who('v', ['viewer']), 'other', 'list_schemas').ok)
  assert.ok(!p.authorize(who('v', ['viewer']), 'other', 'query').ok)
  assert.ok(p.authorize(who('carol', []), 'shop', 'list_tables').ok === false, 'carol: analyst and support disagree on dbRole')
})

test('roles that disagree on the database role are refused (fail closed)', () => {
  const r = policy().authorize(who('x', ['analyst', 'support']), 'shop', 'query')
  assert.ok(!r.ok && r.subject === 'conflicting_db_roles')
})

test('tools/list visibility follows the grants', () => {
  const p = policy()
  assert.deepEqual([...p.visibleTools(who('bob', ['support']))].sort(), ['list_tables', 'query'])
  assert.deepEqual([...p.visibleTools(who('eve', ['nobody']))], [])
  assert.equal(allowAllPolicy().visibleTools(who('x', [])).size, 5)
})

test('the policy file is strict and checked against the config', () => {
  assert.ok(!load('version: 2\nroles: {}\n').ok)
  assert.ok(!load('version: 1\nroles:\n  a:\n    sources:\n      shop:\n        tools: [drop_table]\n').ok)
  assert.ok(!load('version: 1\nroles:\n  a:\n    sources:\n      shop:\n        dbrole: x\n').ok, 'misspelled key')
  assert.ok(!load('version: 1\nroles:\n  a:\n    sources:\n      shop:\n        dbRole: "x; DROP ROLE y"\n').ok, 'dbRole is an identifier')
  const unknown = load('version: 1\nroles:\n  a:\n    sources:\n      nope: {}\n')
  assert.ok(!unknown.ok && /sources\.nope: no such source/.test(unknown.message))
  assert.ok(!loadPolicy('missing.yaml', [], () => { throw new Error('ENOENT') }).ok)
})

test('dbRoles lists every mapped role for the start-up check', () => {
  assert.deepEqual(policy().dbRoles().map((r) => r.dbRole).sort(), ['sw_analyst', 'sw_support'])
})

// Writes (issue 3): off by default, granted per class, intersected across roles.
const WRITES = `
version: 1
principals:
  dana: [writer, narrow]
roles:
  writer:
    sources:
      shop: { dbRole: sw_w, access: { write: [insert, update, delete] } }
  narrow:
    sources:
      shop: { dbRole: sw_w, access: { write: [update] } }
  listed:
    sources:
      shop: { tools: [query, execute], access: { write: [insert] } }
  unlisted:
    sources:
      shop: { tools: [query], access: { write: [insert] } }
  reader:
    sources:
      shop: { access: read }
`

test('writes: execute is granted only with write access, never by default', () => {
  const r = load(WRITES)
  assert.ok(r.ok, r.ok ? '' : r.message)
  const p = r.policy
  const writer = p.authorize(who('w', ['writer']), 'shop', 'execute')
  assert.ok(writer.ok)
  assert.deepEqual([...(writer.ok ? writer.value.writeClasses : [])], ['insert', 'update', 'delete'])
  assert.ok(p.visibleTools(who('w', ['writer'])).has('execute'))
  // A read grant (explicit or default) never gets execute; a tools list without execute neither.
  for (const role of ['reader', 'unlisted']) {
    assert.equal(p.authorize(who('x', [role]), 'shop', 'execute').ok, false, role)
    assert.ok(!p.visibleTools(who('x', [role])).has('execute'), role)
  }
  const listed = p.authorize(who('l', ['listed']), 'shop', 'execute')
  assert.deepEqual([...(listed.ok ? listed.value.writeClasses : [])], ['insert'])
  // Read tools carry no write classes.
  const q = p.authorize(who('w', ['writer']), 'shop', 'query')
  assert.equal(q.ok && q.value.writeClasses.size, 0)
  // No policy at all: every read tool, and no writes.
  assert.equal(allowAllPolicy().authorize(who('local', ['default']), 'shop', 'execute').ok, false)
  assert.ok(!allowAllPolicy().visibleTools(who('local', ['default'])).has('execute'))
})

test('writes: several granting roles intersect their write classes (stricter, never looser)', () => {
  const r = load(WRITES)
  assert.ok(r.ok)
  const both = r.policy.authorize(who('dana', []), 'shop', 'execute')
  assert.ok(both.ok)
  assert.deepEqual([...(both.ok ? both.value.writeClasses : [])], ['update'])
  const disjoint = load(WRITES.replace('write: [update]', 'write: [update]').replace('dana: [writer, narrow]', 'dana: [listed, narrow]'))
  assert.ok(disjoint.ok)
  const none = disjoint.policy.authorize(who('dana', []), 'shop', 'execute')
  assert.equal(none.ok, false)
  assert.equal(!none.ok && none.code, 'ERR_POLICY_DENIED')
})

test('writes: the schema is strict (no DDL class, no empty or repeated list, no execute without write access)', () => {
  const grant = (g: string) => `version: 1\nroles:\n  r:\n    sources:\n      shop: ${g}\n`
  for (const bad of [
    '{ access: { write: [] } }',
    '{ access: { write: [create] } }',
    '{ access: { write: [truncate] } }',
    '{ access: { write: [insert, insert] } }',
    '{ access: write }',
    '{ access: { write: [insert], ddl: true } }',
    '{ tools: [execute] }',
    '{ tools: [execute], access: read }',
  ]) {
    assert.equal(load(grant(bad)).ok, false, bad)
  }
  assert.equal(load(grant('{ access: { write: [delete] } }')).ok, true)
})
