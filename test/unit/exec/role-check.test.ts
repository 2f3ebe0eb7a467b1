import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { RoleReport } from '../../../src/exec/drivers/driver.js'
import { judgeRole } from '../../../src/exec/role-check.js'

const base: RoleReport = {
  role: 'reader',
  superuser: false,
  bypassRls: false,
  createRole: false,
  createDb: false,
  replication: false,
  memberOf: [],
  writePrivileges: [],
  serverVersion: '15.20',
}

test('a least-privilege role is ok', () => {
  assert.deepEqual(judgeRole(base), { kind: 'ok' })
})

test('superuser and BYPASSRLS are unsafe', () => {
  assert.equal(judgeRole({ ...base, superuser: true }).kind, 'unsafe')
  assert.equal(judgeRole({ ...base, bypassRls: true }).kind, 'unsafe')
  const both = judgeRole({ ...base, superuser: true, bypassRls: true })
  assert.ok(both.kind === 'unsafe' && /SUPERUSER and BYPASSRLS/.test(both.message))
})

test('a role that can write is allowed with a warning pointing to doctor', () => {
  const w = judgeRole({ ...base, writePrivileges: ['INSERT ON public.orders'] })
  assert.ok(w.kind === 'writable' && /doctor/.test(w.message) && /INSERT ON public\.orders/.test(w.message))
  assert.equal(judgeRole({ ...base, createDb: true }).kind, 'writable')
})
