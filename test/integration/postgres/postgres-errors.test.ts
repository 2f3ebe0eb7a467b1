/**
 * I5 for the error mapper on its own (no database needed): SQLSTATE classes to catalog codes, and
 * nothing from a message, detail, hint or DSN in code, subject or data.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { mapPostgresError, describeError } from '../../../src/exec/drivers/postgres/postgres-errors.js'

function serverError(code: string, extra: Record<string, string> = {}): Error {
  return Object.assign(new Error(`secret message for ${code}`), {
    code,
    severity: 'ERROR',
    detail: 'secret detail',
    hint: 'secret hint',
    where: 'secret where',
    ...extra,
  })
}

const none = { cancelledBy: null } as const

describe('postgres error mapping', () => {
  const cases: [string, string, string][] = [
    ['57014', 'ERR_EXEC_TIMEOUT', 'query_canceled'],
    ['25006', 'ERR_EXEC_READ_ONLY_VIOLATION', 'read_only_sql_transaction'],
    ['42501', 'ERR_EXEC_PERMISSION_DENIED', 'insufficient_privilege'],
    ['42P01', 'ERR_EXEC_UNDEFINED_OBJECT', 'undefined_table'],
    ['42703', 'ERR_EXEC_UNDEFINED_OBJECT', 'undefined_column'],
    ['42883', 'ERR_EXEC_UNDEFINED_OBJECT', 'undefined_function'],
    ['3F000', 'ERR_EXEC_UNDEFINED_OBJECT', 'invalid_schema_name'],
    ['42704', 'ERR_EXEC_UNDEFINED_OBJECT', 'undefined_object'],
    ['22012', 'ERR_EXEC_INVALID_INPUT', 'division_by_zero'],
    ['22P02', 'ERR_EXEC_INVALID_INPUT', 'invalid_text_representation'],
    ['2203A', 'ERR_EXEC_INVALID_INPUT', 'data_exception'],
    ['42804', 'ERR_EXEC_INVALID_INPUT', 'datatype_mismatch'],
    ['42P18', 'ERR_EXEC_INVALID_INPUT', 'indeterminate_datatype'],
    ['53200', 'ERR_EXEC_RESOURCE_LIMIT', 'out_of_memory'],
    ['54001', 'ERR_EXEC_RESOURCE_LIMIT', 'statement_too_complex'],
    ['55P03', 'ERR_EXEC_TIMEOUT', 'lock_not_available'],
    ['08006', 'ERR_SOURCE_UNAVAILABLE', 'connection_failure'],
    ['08P01', 'ERR_SOURCE_UNAVAILABLE', 'protocol_violation'],
    ['57P01', 'ERR_SOURCE_UNAVAILABLE', 'admin_shutdown'],
    ['57P03', 'ERR_SOURCE_UNAVAILABLE', 'cannot_connect_now'],
    ['28P01', 'ERR_SOURCE_UNAVAILABLE', 'invalid_password'],
    ['42601', 'ERR_EXEC_QUERY_FAILED', 'syntax_error'],
    ['40P01', 'ERR_EXEC_QUERY_FAILED', 'deadlock_detected'],
    ['P0001', 'ERR_EXEC_QUERY_FAILED', 'plpgsql_error'],
    ['ZZ999', 'ERR_EXEC_QUERY_FAILED', 'unknown_sqlstate'],
  ]
  for (const [state, code, subject] of cases) {
    test(`${state} → ${code} (${subject})`, () => {
      const failure = mapPostgresError(serverError(state), none)
      assert.equal(failure.code, code)
      assert.equal(failure.subject, subject)
      const { cause: _cause, ...visible } = failure
      assert.ok(!JSON.stringify(visible).includes('secret'))
    })
  }

  test('57014 after our own abort is a cancellation; after our deadline, a timeout with its limit', () => {
    assert.equal(mapPostgresError(serverError('57014'), { cancelledBy: 'abort' }).code, 'ERR_EXEC_CANCELLED')
    const timeout = mapPostgresError(serverError('57014'), { cancelledBy: null, statementTimeoutMs: 250 })
    assert.deepEqual(timeout.data, { limitMs: 250 })
  })

  test('a Bind with the wrong parameter count is invalid input, not a lost connection', () => {
    assert.equal(mapPostgresError(serverError('08P01', { routine: 'exec_bind_message' }), none).code, 'ERR_EXEC_INVALID_INPUT')
  })

  test('socket and pool errors are ERR_SOURCE_UNAVAILABLE; other client errors are query failures', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:5432 postgres://u:pw@h/db'), { code: 'ECONNREFUSED' })
    for (const error of [
      refused,
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      Object.assign(new Error('self signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
    ]) {
      const failure = mapPostgresError(error, none)
      assert.equal(failure.code, 'ERR_SOURCE_UNAVAILABLE')
      assert.equal(failure.subject, 'connection_failure')
    }
    assert.equal(mapPostgresError(new Error('weird'), none).code, 'ERR_EXEC_QUERY_FAILED')
    assert.equal(mapPostgresError(serverError('42P01'), { cancelledBy: null, connecting: true }).code, 'ERR_SOURCE_UNAVAILABLE')
  })

  test('describeError keeps only SQLSTATE, condition, severity, routine and errno', () => {
    const logged = JSON.stringify(describeError(serverError('42P01', { routine: 'parserOpenTable' })))
    assert.equal(logged, JSON.stringify({ sqlstate: '42P01', condition: 'undefined_table', severity: 'ERROR', routine: 'parserOpenTable', name: 'Error' }))
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:5432'), { code: 'ECONNREFUSED', syscall: 'connect' })
    assert.ok(!JSON.stringify(describeError(refused)).includes('10.1.2.3'))
  })
})
