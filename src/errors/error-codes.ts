/**
 * The one catalog of stable error codes. Every refusal or failure that reaches a client carries one
 * of these codes and its fixed message; docs/errors.md lists the same codes and a test keeps the two
 * in step (test/unit/errors/error-catalog.test.ts).
 *
 * `message` is the whole client-facing text. It never contains driver text, SQL, SQLSTATE detail,
 * hints, stacks, DSNs or secrets. `subject` (see util/result.ts) may add the name of a construct
 * taken from a reviewed list or the parse tree.
 */
export interface ErrorSpec {
  readonly message: string
  readonly retryable: boolean
  /** Where the error is reported: before dispatch (`http`), at startup only, or as a tool result. */
  readonly surface: 'tool' | 'http' | 'startup'
}

const catalog = {
  ERR_CONFIG_INVALID: { message: 'Configuration is invalid', retryable: false, surface: 'startup' },
  ERR_CONFIG_UNSAFE_ROLE: {
    message: 'The database role is a superuser or bypasses row-level security',
    retryable: false,
    surface: 'startup',
  },

  ERR_AUTH_REQUIRED: { message: 'Authentication required', retryable: false, surface: 'http' },
  ERR_AUTH_INVALID: { message: 'Invalid credentials', retryable: false, surface: 'http' },
  ERR_AUTH_INSUFFICIENT_SCOPE: { message: 'Insufficient scope', retryable: false, surface: 'http' },

  ERR_HTTP_HOST_NOT_ALLOWED: { message: 'Host header is not allowed', retryable: false, surface: 'http' },
  ERR_HTTP_ORIGIN_NOT_ALLOWED: { message: 'Origin is not allowed', retryable: false, surface: 'http' },
  ERR_HTTP_BODY_TOO_LARGE: { message: 'Request body is too large', retryable: false, surface: 'http' },
  ERR_HTTP_NOT_FOUND: { message: 'Not found', retryable: false, surface: 'http' },
  ERR_HTTP_MALFORMED: { message: 'The request is not valid JSON-RPC', retryable: false, surface: 'http' },
  ERR_HTTP_INCOMPLETE: { message: 'The request was not received completely', retryable: true, surface: 'http' },

  ERR_TOOL_UNKNOWN: { message: 'Unknown tool', retryable: false, surface: 'tool' },
  ERR_TOOL_INVALID_ARGUMENTS: {
    message: 'The arguments do not match the tool input schema',
    retryable: false,
    surface: 'tool',
  },

  ERR_POLICY_DENIED: { message: 'The call is not permitted by policy', retryable: false, surface: 'tool' },

  ERR_QUOTA_RATE: { message: 'Too many calls: the rate limit for this caller is reached', retryable: true, surface: 'tool' },
  ERR_QUOTA_CONCURRENCY: { message: 'Too many calls at once: no slot is free', retryable: true, surface: 'tool' },
  ERR_QUOTA_ROWS: { message: 'The row budget for this caller is used up for now', retryable: true, surface: 'tool' },
  ERR_QUOTA_BYTES: { message: 'The byte budget for this caller is used up for now', retryable: true, surface: 'tool' },
  ERR_QUOTA_DB_TIME: { message: 'The database time budget for this caller is used up for now', retryable: true, surface: 'tool' },
  ERR_QUOTA_STORE_UNAVAILABLE: {
    message: 'The quota store is unreachable, so the call is not served',
    retryable: true,
    surface: 'tool',
  },
  ERR_QUOTA_COST: {
    message: "The query's estimated cost is above the ceiling for this call",
    retryable: false,
    surface: 'tool',
  },

  ERR_SQL_TOO_LARGE: { message: 'The SQL text is too long', retryable: false, surface: 'tool' },
  ERR_SQL_TOO_DEEP: { message: 'The SQL is nested too deeply', retryable: false, surface: 'tool' },
  ERR_SQL_PARSE: { message: 'The SQL could not be parsed', retryable: false, surface: 'tool' },
  ERR_SQL_EMPTY: { message: 'The SQL contains no statement', retryable: false, surface: 'tool' },
  ERR_SQL_MULTI_STATEMENT: {
    message: 'Exactly one SQL statement is allowed per call',
    retryable: false,
    surface: 'tool',
  },
  ERR_SQL_NOT_READ_ONLY: {
    message: 'Only read-only statements are allowed (SELECT, VALUES, TABLE, WITH, EXPLAIN, SHOW)',
    retryable: false,
    surface: 'tool',
  },
  ERR_SQL_FORBIDDEN_CONSTRUCT: {
    message: 'The statement uses a construct that is not allowed',
    retryable: false,
    surface: 'tool',
  },
  ERR_SQL_FORBIDDEN_FUNCTION: {
    message: 'The statement calls a function that is not allowed',
    retryable: false,
    surface: 'tool',
  },
  ERR_SQL_FORBIDDEN_SETTING: {
    message: 'The statement reads a setting that is not allowed',
    retryable: false,
    surface: 'tool',
  },
  ERR_SQL_PARAMS_MISMATCH: {
    message: 'The number of parameters does not match the $n placeholders in the SQL',
    retryable: false,
    surface: 'tool',
  },

  ERR_SQL_NOT_DML: {
    message: 'Only one INSERT, UPDATE or DELETE statement is accepted (no MERGE, DDL, COPY or utility statements)',
    retryable: false,
    surface: 'tool',
  },

  ERR_WRITE_SOURCE_READ_ONLY: { message: 'This source does not accept writes', retryable: false, surface: 'tool' },
  ERR_WRITE_CONFIRMATION_UNAVAILABLE: {
    message: 'A write needs the user to confirm it, and this client cannot ask',
    retryable: false,
    surface: 'tool',
  },
  ERR_WRITE_CONFIRMATION_REQUIRED: {
    message: 'The write is waiting for the user to confirm it',
    retryable: true,
    surface: 'tool',
  },
  ERR_WRITE_DECLINED: { message: 'The user did not confirm the write', retryable: false, surface: 'tool' },
  ERR_WRITE_CONFIRMATION_TIMEOUT: { message: 'The write was not confirmed in time', retryable: true, surface: 'tool' },
  ERR_WRITE_CONFIRMATION_INVALID: {
    message: 'The confirmation does not match this call',
    retryable: false,
    surface: 'tool',
  },

  ERR_SOURCE_UNKNOWN: { message: 'Unknown source', retryable: false, surface: 'tool' },
  ERR_SOURCE_UNAVAILABLE: { message: 'The database is unavailable', retryable: true, surface: 'tool' },
  ERR_SOURCE_MISCONFIGURED: {
    message: 'The connection to this database voids call isolation; the source is refused until it is fixed',
    retryable: false,
    surface: 'tool',
  },

  ERR_EXEC_TIMEOUT: {
    message: 'The statement exceeded its time limit and was cancelled on the server',
    retryable: false,
    surface: 'tool',
  },
  ERR_EXEC_CANCELLED: { message: 'The statement was cancelled', retryable: true, surface: 'tool' },
  ERR_EXEC_READ_ONLY_VIOLATION: {
    message: 'The database refused a write in a read-only transaction',
    retryable: false,
    surface: 'tool',
  },
  ERR_EXEC_PERMISSION_DENIED: {
    message: 'The database role lacks a privilege this statement needs',
    retryable: false,
    surface: 'tool',
  },
  ERR_EXEC_UNDEFINED_OBJECT: {
    message: 'The statement names a table, column or function that was not found',
    retryable: false,
    surface: 'tool',
  },
  ERR_EXEC_INVALID_INPUT: {
    message: 'A value or parameter has the wrong type or format',
    retryable: false,
    surface: 'tool',
  },
  ERR_EXEC_QUERY_FAILED: { message: 'The database could not run the statement', retryable: false, surface: 'tool' },
  ERR_EXEC_RESOURCE_LIMIT: {
    message: 'The database ran out of a resource while running the statement',
    retryable: true,
    surface: 'tool',
  },

  ERR_AUDIT_UNAVAILABLE: {
    message: 'The audit trail cannot record this call, so it is not served',
    retryable: true,
    surface: 'tool',
  },
  ERR_INTERNAL: { message: 'Internal error', retryable: false, surface: 'tool' },
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof catalog

/** Frozen, null-prototype view of the catalog. */
export const ERROR_CATALOG: Readonly<Record<ErrorCode, ErrorSpec>> = Object.freeze(
  Object.assign(Object.create(null) as Record<ErrorCode, ErrorSpec>, catalog),
)

export const ERROR_CODES: readonly ErrorCode[] = Object.freeze(Object.keys(catalog) as ErrorCode[])

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(catalog, value)
}
