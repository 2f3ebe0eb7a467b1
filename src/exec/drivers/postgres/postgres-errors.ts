/**
 * Driver errors → catalog codes (I5). The mapping reads only the SQLSTATE, the server routine name
 * and Node's errno code, never a message. `subject` comes from the fixed condition-name table below,
 * so no message, detail, hint, position, context, DSN or password can reach `code`, `subject` or
 * `data`; the original error is kept as the local-only `cause`.
 */
import type { ErrorCode } from '../../../errors/error-codes.js'
import { fail, type Fail } from '../../../util/result.js'

/** Condition names (PostgreSQL Appendix A) for the SQLSTATEs a read can plausibly meet. */
const CONDITIONS: Readonly<Record<string, string>> = {
  '08000': 'connection_exception',
  '08003': 'connection_does_not_exist',
  '08006': 'connection_failure',
  '08001': 'sqlclient_unable_to_establish_sqlconnection',
  '08004': 'sqlserver_rejected_establishment_of_sqlconnection',
  '08P01': 'protocol_violation',
  '0A000': 'feature_not_supported',
  '21000': 'cardinality_violation',
  '22000': 'data_exception',
  '22001': 'string_data_right_truncation',
  '22003': 'numeric_value_out_of_range',
  '22007': 'invalid_datetime_format',
  '22008': 'datetime_field_overflow',
  '22012': 'division_by_zero',
  '22023': 'invalid_parameter_value',
  '2202E': 'array_subscript_error',
  '22P02': 'invalid_text_representation',
  '22P05': 'untranslatable_character',
  '22021': 'character_not_in_repertoire',
  '22032': 'invalid_json_text',
  '25000': 'invalid_transaction_state',
  '25001': 'active_sql_transaction',
  '25006': 'read_only_sql_transaction',
  '25P02': 'in_failed_sql_transaction',
  '25P03': 'idle_in_transaction_session_timeout',
  '28000': 'invalid_authorization_specification',
  '28P01': 'invalid_password',
  '3D000': 'invalid_catalog_name',
  '3F000': 'invalid_schema_name',
  '34000': 'invalid_cursor_name',
  '40001': 'serialization_failure',
  '40P01': 'deadlock_detected',
  '42501': 'insufficient_privilege',
  '42601': 'syntax_error',
  '42602': 'invalid_name',
  '42702': 'ambiguous_column',
  '42703': 'undefined_column',
  '42704': 'undefined_object',
  '42725': 'ambiguous_function',
  '42803': 'grouping_error',
  '42804': 'datatype_mismatch',
  '42809': 'wrong_object_type',
  '42846': 'cannot_coerce',
  '42883': 'undefined_function',
  '42P01': 'undefined_table',
  '42P02': 'undefined_parameter',
  '42P08': 'ambiguous_parameter',
  '42P18': 'indeterminate_datatype',
  '53000': 'insufficient_resources',
  '53100': 'disk_full',
  '53200': 'out_of_memory',
  '53300': 'too_many_connections',
  '53400': 'configuration_limit_exceeded',
  '54000': 'program_limit_exceeded',
  '54001': 'statement_too_complex',
  '54011': 'too_many_columns',
  '54023': 'too_many_arguments',
  '55000': 'object_not_in_prerequisite_state',
  '55P03': 'lock_not_available',
  '57000': 'operator_intervention',
  '57014': 'query_canceled',
  '57P01': 'admin_shutdown',
  '57P02': 'crash_shutdown',
  '57P03': 'cannot_connect_now',
  '57P04': 'database_dropped',
  '57P05': 'idle_session_timeout',
  '58000': 'system_error',
  '58030': 'io_error',
  XX000: 'internal_error',
  XX001: 'data_corrupted',
}

/** Fallback subject: the SQLSTATE class's condition name. */
const CLASSES: Readonly<Record<string, string>> = {
  '08': 'connection_exception',
  '0A': 'feature_not_supported',
  '22': 'data_exception',
  '23': 'integrity_constraint_violation',
  '25': 'invalid_transaction_state',
  '28': 'invalid_authorization_specification',
  '2B': 'dependent_privilege_descriptors_still_exist',
  '38': 'external_routine_exception',
  '39': 'external_routine_invocation_exception',
  '3B': 'savepoint_exception',
  '40': 'transaction_rollback',
  '42': 'syntax_error_or_access_rule_violation',
  '53': 'insufficient_resources',
  '54': 'program_limit_exceeded',
  '55': 'object_not_in_prerequisite_state',
  '57': 'operator_intervention',
  '58': 'system_error',
  F0: 'config_file_error',
  HV: 'fdw_error',
  P0: 'plpgsql_error',
  XX: 'internal_error',
}

/** Node/pg errors that mean "the database cannot be reached right now". */
const UNAVAILABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENOENT',
  'EPROTO',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
])

/** pg's own connection-level messages (not server text; fixed strings in pg and pg-pool). */
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout expired',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end on the pool',
  'The server does not support SSL connections',
  'There was an error establishing an SSL connection',
]

/** Why the statement stopped when sqlwarden itself cancelled it. */
export type CancelReason = 'abort' | 'deadline' | null

export interface ErrorContext {
  readonly cancelledBy: CancelReason
  /** The error happened while acquiring or opening a connection. */
  readonly connecting?: boolean
  readonly statementTimeoutMs?: number
}

/** The SQLSTATE of a server error, or null for client-side and socket errors. */
export function sqlState(error: unknown): string | null {
  if (typeof error !== 'object' || error === null) return null
  const { code, severity } = error as { code?: unknown; severity?: unknown }
  if (typeof code !== 'string' || typeof severity !== 'string') return null
  return /^[0-9A-Z]{5}$/.test(code) ? code : null
}

export function conditionName(state: string): string {
  return CONDITIONS[state] ?? CLASSES[state.slice(0, 2)] ?? 'unknown_sqlstate'
}

function isUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const { code, message } = error as { code?: unknown; message?: unknown }
  if (typeof code === 'string' && UNAVAILABLE_ERRNOS.has(code)) return true
  if (typeof code === 'string' && (code.startsWith('ERR_TLS') || code.includes('CERT'))) return true
  return typeof message === 'string' && UNAVAILABLE_MESSAGES.some((m) => message.startsWith(m))
}

function codeForState(state: string, routine: string | undefined, context: ErrorContext): ErrorCode {
  const cls = state.slice(0, 2)
  if (state === '57014') return context.cancelledBy === 'abort' ? 'ERR_EXEC_CANCELLED' : 'ERR_EXEC_TIMEOUT'
  if (state === '25006') return 'ERR_EXEC_READ_ONLY_VIOLATION'
  if (state === '42501') return 'ERR_EXEC_PERMISSION_DENIED'
  if (['42P01', '42703', '42883', '3F000', '42704'].includes(state)) return 'ERR_EXEC_UNDEFINED_OBJECT'
  if (cls === '22' || ['42804', '42P18', '42P02', '42P08'].includes(state)) return 'ERR_EXEC_INVALID_INPUT'
  // A Bind with the wrong number of parameters is a protocol_violation raised by exec_bind_message;
  // the connection itself is fine. `routine` is a server function name, not message text.
  if (state === '08P01' && routine === 'exec_bind_message') return 'ERR_EXEC_INVALID_INPUT'
  if (cls === '53' || cls === '54') return 'ERR_EXEC_RESOURCE_LIMIT'
  if (state === '55P03' || state === '25P03') return 'ERR_EXEC_TIMEOUT'
  if (cls === '08' || cls === '28' || state === '3D000' || /^57P0[1-5]$/.test(state)) return 'ERR_SOURCE_UNAVAILABLE'
  return 'ERR_EXEC_QUERY_FAILED'
}

/** The one way a driver error becomes a `Fail`. */
export function mapPostgresError(error: unknown, context: ErrorContext): Fail {
  const state = sqlState(error)
  if (state === null) {
    if (context.connecting === true || isUnavailable(error)) {
      return fail('ERR_SOURCE_UNAVAILABLE', { subject: 'connection_failure', cause: error })
    }
    if (context.cancelledBy !== null) return cancelled(context, error)
    return fail('ERR_EXEC_QUERY_FAILED', { subject: 'driver_error', cause: error })
  }
  const routine = (error as { routine?: unknown }).routine
  const code =
    context.connecting === true
      ? 'ERR_SOURCE_UNAVAILABLE'
      : codeForState(state, typeof routine === 'string' ? routine : undefined, context)
  const limitMs = code === 'ERR_EXEC_TIMEOUT' && state === '57014' ? context.statementTimeoutMs : undefined
  return fail(code, { subject: conditionName(state), ...(limitMs === undefined ? {} : { data: { limitMs } }), cause: error })
}

/** The call was stopped by its signal or by the client-side deadline, not by a server error. */
export function cancelled(context: ErrorContext, cause?: unknown): Fail {
  if (context.cancelledBy === 'deadline') {
    const data = context.statementTimeoutMs === undefined ? undefined : { limitMs: context.statementTimeoutMs }
    return fail('ERR_EXEC_TIMEOUT', { subject: 'client_deadline', ...(data ? { data } : {}), cause })
  }
  return fail('ERR_EXEC_CANCELLED', { subject: 'aborted', cause })
}

/**
 * What may go to the operational log about a driver error: SQLSTATE, condition, severity, server
 * routine, errno code. No message text (it can carry row values, names or connection details).
 */
export function describeError(error: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (typeof error !== 'object' || error === null) return { kind: typeof error }
  const { code, severity, routine, syscall, name } = error as Record<string, unknown>
  const state = sqlState(error)
  if (state !== null) {
    out.sqlstate = state
    out.condition = conditionName(state)
  } else if (typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code)) {
    out.errno = code
  }
  if (typeof severity === 'string' && /^[A-Z]{1,10}$/.test(severity)) out.severity = severity
  if (typeof routine === 'string' && /^[A-Za-z0-9_]{1,64}$/.test(routine)) out.routine = routine
  if (typeof syscall === 'string' && /^[a-z]{1,20}$/.test(syscall)) out.syscall = syscall
  if (typeof name === 'string' && /^[A-Za-z]{1,40}$/.test(name)) out.name = name
  if (state === null && isUnavailable(error)) out.class = 'connection_failure'
  return out
}
