import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildCallEvent, stageOf } from '../../../src/audit/call-event.js'
import { DEFAULT_AUDIT_REDACTIONS } from '../../../src/config/config-schema.js'
import { createPrincipal, createRequestContext } from '../../../src/pipeline/request-context.js'

const ctx = () => createRequestContext({ principal: createPrincipal('alice', ['analyst']), transport: 'stdio', traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` })
const redact = DEFAULT_AUDIT_REDACTIONS.map((s) => new RegExp(s, 'gu'))
const args = {
  sql: "SELECT * FROM users WHERE password = 'hunter2' AND key = 'AKIAABCDEFGHIJKLMNOP' AND card = '4111 1111 1111 1111'",
  params: ['sk_live_abcdefghijklmnopqrstuvwx', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlMTIz', 7, null],
}

test('raw SQL and parameter values stay out of the record unless the operator turns them on', () => {
  const event = buildCallEvent({ ctx: ctx(), toolName: 'query', outcome: null, code: 'ERR_SQL_PARSE', bytes: 10, authMethod: 'stdio', args }, { recordSql: false, recordParams: false, redact })
  assert.equal(event.sql, undefined)
  assert.equal(event.params, undefined)
  assert.equal(event.trace_id, '1'.repeat(32))
  assert.doesNotMatch(JSON.stringify(event), /hunter2|AKIA|sk_live|eyJ/)
})

test('when turned on, secrets matching the configured patterns are redacted', () => {
  const event = buildCallEvent({ ctx: ctx(), toolName: 'query', outcome: null, code: null, bytes: 10, authMethod: 'stdio', args }, { recordSql: true, recordParams: true, redact })
  assert.match(event.sql ?? '', /password = '\[REDACTED\]'/)
  assert.doesNotMatch(JSON.stringify(event), /hunter2|AKIAABCDEFGHIJKLMNOP|4111 1111|sk_live_abc|eyJhbGciOiJIUzI1NiJ9\.eyJ/)
  assert.deepEqual(event.params, ['[REDACTED]', '[REDACTED]', 7, null])
})

test('caller-controlled values are capped and sit under fixed keys only', () => {
  const long = 'x'.repeat(5_000)
  const event = buildCallEvent({ ctx: ctx(), toolName: long, outcome: null, code: 'ERR_TOOL_UNKNOWN', bytes: null, authMethod: 'stdio', args: { [long]: 1 } }, { recordSql: false, recordParams: false, redact })
  assert.ok((event.tool ?? '').length <= 257)
  assert.deepEqual(Object.keys(event).sort(), [
    'auth_method', 'bytes', 'client', 'decision', 'duration_ms', 'error_code', 'fingerprint', 'normalized_sql', 'param_count', 'principal',
    'reason', 'request_id', 'roles', 'rows', 'source', 'stage', 'statement_class', 'tool', 'trace_id', 'transport', 'truncated',
  ])
})

test('stages and decisions follow the code family', () => {
  assert.equal(stageOf(null), 'response')
  assert.equal(stageOf('ERR_AUTH_INVALID'), 'authentication')
  assert.equal(stageOf('ERR_POLICY_DENIED'), 'policy')
  assert.equal(stageOf('ERR_SQL_FORBIDDEN_FUNCTION'), 'analysis')
  assert.equal(stageOf('ERR_EXEC_TIMEOUT'), 'execution')
  assert.equal(stageOf('ERR_TOOL_INVALID_ARGUMENTS'), 'input')
  const timeout = buildCallEvent({ ctx: ctx(), toolName: 'query', outcome: null, code: 'ERR_EXEC_TIMEOUT', bytes: null, authMethod: 'stdio', args: {} }, { recordSql: false, recordParams: false, redact })
  assert.equal(timeout.decision, 'error')
})
