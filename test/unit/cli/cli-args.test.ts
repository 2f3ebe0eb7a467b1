import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseCliArgs } from '../../../src/cli/cli-args.js'

test('the contract flags parse', () => {
  const r = parseCliArgs([
    '--db', 'postgres://x@127.0.0.1/d', '--config', 'c.yaml', '--http', '127.0.0.1:8765',
    '--max-rows', '10', '--max-bytes', '2048', '--statement-timeout', '5s', '--allow-unsafe-role',
  ])
  assert.ok(r.ok && r.command === 'serve')
  assert.deepEqual(r.overrides, {
    db: 'postgres://x@127.0.0.1/d',
    configFile: 'c.yaml',
    http: '127.0.0.1:8765',
    maxRows: 10,
    maxBytes: 2048,
    statementTimeout: '5s',
    allowUnsafeRole: true,
  })
})

test('subcommands demo and doctor', () => {
  const demo = parseCliArgs(['demo'])
  assert.ok(demo.ok && demo.command === 'demo')
  const doctor = parseCliArgs(['doctor', '--db', 'postgres://x@127.0.0.1/d'])
  assert.ok(doctor.ok && doctor.command === 'doctor')
})

test('unknown flags, unknown commands and bad numbers are refused', () => {
  assert.ok(!parseCliArgs(['--readonly']).ok)
  assert.ok(!parseCliArgs(['drop-everything']).ok)
  assert.ok(!parseCliArgs(['--max-rows', '-5']).ok)
  assert.ok(!parseCliArgs(['--max-rows', '1e3']).ok)
  assert.ok(!parseCliArgs(['serve', 'extra']).ok)
})

test('keys new takes a principal and one or more roles', () => {
  const r = parseCliArgs(['keys', 'new', '--principal', 'alice', '--role', 'analyst', '--role', 'viewer'])
  assert.ok(r.ok && r.command === 'keys-new')
  assert.deepEqual(r.keys, { principal: 'alice', roles: ['analyst', 'viewer'] })
  assert.ok(!parseCliArgs(['keys', 'new', '--role', 'analyst']).ok)
  assert.ok(!parseCliArgs(['keys', 'new', '--principal', 'alice']).ok)
  assert.ok(!parseCliArgs(['keys', 'list']).ok)
  assert.ok(!parseCliArgs(['--principal', 'alice']).ok)
})
