/**
 * The fixed SQL of the read path, sqlwarden's own text. The settings go in as bound parameters;
 * every one is transaction-local (`set_config(…, true)`), so ROLLBACK restores the session.
 */
export const BEGIN_SQL = 'BEGIN READ ONLY'

/**
 * $1 statement_timeout, $2 lock_timeout, $3 idle_in_transaction_session_timeout (ms), $4 search_path,
 * $5 role, $6 sqlwarden.principal, $7 the connection's session mark (NULL on PGlite, which has no
 * sessions of its own). The row's last column (SETTINGS_SESSION_COLUMN) is the session's mark,
 * checked twice (postgres-session-identity.ts): here, on the server, where a session that does not
 * carry $7 fails the statement with division_by_zero (SESSION_MISMATCH_SQLSTATE; nothing else here
 * divides), so the rest of the batch, the caller's statement with its Parse, never runs in another
 * connection's session; and by the driver, on the value the row returns.
 * The output settings fix the text the value converters parse (postgres-values.ts).
 * standard_conforming_strings is forced on because libpg-query always parses with it on: with it
 * off (a role or database default), `'a\' || ' ), pg_sleep(5) --'` is two strings to the parser but
 * a string and a pg_sleep call to the server (test/regressions/standard-conforming-strings-off).
 */
export const SETTINGS_BARE_SQL =
  "SELECT pg_catalog.set_config('statement_timeout', $1, true), pg_catalog.set_config('lock_timeout', $2, true), " +
  "pg_catalog.set_config('idle_in_transaction_session_timeout', $3, true), pg_catalog.set_config('search_path', $4, true), " +
  "pg_catalog.set_config('DateStyle', 'ISO, MDY', true), pg_catalog.set_config('IntervalStyle', 'postgres', true), " +
  "pg_catalog.set_config('bytea_output', 'hex', true), pg_catalog.set_config('extra_float_digits', '1', true), " +
  "pg_catalog.set_config('standard_conforming_strings', 'on', true), " +
  // $5 role: SET LOCAL ROLE as a bound value; NULL keeps the session's role (the embedded database
  // sets one). The name comes from the policy's allowlist and the server checks membership.
  // $6 the principal, for row-level security policies.
  "pg_catalog.set_config('role', COALESCE($5::text, pg_catalog.current_setting('role')), true), " +
  "pg_catalog.set_config('sqlwarden.principal', $6, true), " +
  // The divisor is not a constant (pg_backend_pid() is STABLE), so the planner cannot fold the
  // ELSE arm into an error for every call; only a session without the mark takes it.
  'CASE WHEN $7::pg_catalog.text IS NULL OR ' +
  "pg_catalog.texteq(pg_catalog.current_setting('sqlwarden.session', true), $7::pg_catalog.text) " +
  "THEN pg_catalog.current_setting('sqlwarden.session', true) " +
  'ELSE pg_catalog.int4div(1, pg_catalog.int4mul(0, pg_catalog.pg_backend_pid()))::pg_catalog.text END'

/** What the settings statement fails with when the session does not carry the connection's mark. */
export const SESSION_MISMATCH_SQLSTATE = '22012'

/** The settings row's column holding the session mark, in SETTINGS_BARE_SQL and SETTINGS_SQL alike. */
export const SETTINGS_SESSION_COLUMN = 11

/**
 * SETTINGS_BARE_SQL and $8, the claims as a JSON object: each becomes sqlwarden.claim.<name>.
 * Every function here is schema-qualified and no operator is used: this statement is parsed under
 * the session's own search_path, where a user-defined operator could otherwise stand in for a
 * built-in one. A call without claims runs SETTINGS_BARE_SQL instead (same settings, no claims to
 * set; the subquery is about a fifth of the settings' cost on the server).
 */
export const SETTINGS_SQL =
  `${SETTINGS_BARE_SQL}, ` +
  "(SELECT pg_catalog.count(pg_catalog.set_config(pg_catalog.concat('sqlwarden.claim.', t.k), t.v, true)) " +
  'FROM pg_catalog.jsonb_each_text($8::pg_catalog.jsonb) AS t(k, v))'

/** The claims value ($8) of a call without claims: it runs SETTINGS_BARE_SQL. */
export const NO_CLAIMS = '{}'

/** SETTINGS_SQL's parameters $1 to $8, in order (postgres-call.ts builds them for reads and writes). */
export type SettingsValues = readonly [
  statementTimeoutMs: string,
  lockTimeoutMs: string,
  idleInTransactionMs: string,
  searchPath: string,
  role: string | null,
  principal: string,
  sessionMark: string | null,
  claims: string,
]

/** SETTINGS_BARE_SQL's parameters: SettingsValues without the claims. */
export const SETTINGS_BARE_PARAMS = 7

export const ROLLBACK_SQL = 'ROLLBACK'

/**
 * The names under which the five fixed statements above and below are kept parsed in each session
 * (protocol-level prepared statements: not transactional, so ROLLBACK leaves them). Parsing and
 * planning them on every call cost the server more than the rest of a point lookup. User SQL
 * cannot reach them: analysis refuses EXECUTE, DEALLOCATE and PREPARE, and a SQL-level PREPARE of
 * the same name would fail (one namespace per session).
 */
export const STATEMENT_NAMES = {
  begin: 'sqlwarden_begin',
  settings: 'sqlwarden_settings',
  settingsBare: 'sqlwarden_settings_bare',
  rollback: 'sqlwarden_rollback',
  check: 'sqlwarden_check',
} as const

/**
 * Names under which a session keeps the caller's most recent read statements parsed (protocol-level
 * prepared statements, postgres-session-statements.ts), so a repeated statement is bound, not parsed
 * and planned again. Only the driver creates them, from text that passed analysis in the same call.
 */
export const USER_STATEMENT_SLOTS = 16
export const USER_STATEMENT_NAMES: readonly string[] = Array.from({ length: USER_STATEMENT_SLOTS }, (_, i) => `sqlwarden_read_${i}`)

/** Every protocol-level statement name a session of the driver may hold. */
export const OWN_STATEMENT_NAMES: readonly string[] = [...Object.values(STATEMENT_NAMES), ...USER_STATEMENT_NAMES]

/**
 * Session state a call could leave behind even after ROLLBACK, released or counted. Runs after the
 * transaction's end, so every name is schema-qualified.
 * - Session advisory locks are released (`pg_advisory_unlock_all()`, in FROM, so it runs once and
 *   the row holds only counts): a lock taken during the call lasts no longer than a transaction's
 *   would. They used to be counted in `pg_locks`, but that view copies the whole shared lock table
 *   under all 16 of its partition locks, on every call: about 30 µs of backend CPU per call, a third
 *   of the statement's own cost for a point lookup, and a moment in which every backend of the
 *   cluster that needs a heavyweight lock waits (decision D31).
 * - Counted, and any count destroys the connection: LISTEN (committed LISTENs only, so normally
 *   none), SQL-level PREPARE (not transactional) and holdable cursors. The unnamed portal is ours,
 *   and so are the protocol-level statements named in OWN_STATEMENT_NAMES; any other prepared
 *   statement, and any SQL-level one whatever its name, counts.
 */
export const LEAK_CHECK_SQL =
  'SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.pg_listening_channels()), ' +
  '(SELECT pg_catalog.count(*) FROM pg_catalog.pg_prepared_statements WHERE from_sql OR NOT ' +
  `(name OPERATOR(pg_catalog.=) ANY ('{${OWN_STATEMENT_NAMES.join(',')}}'::pg_catalog.text[]))), ` +
  "(SELECT pg_catalog.count(*) FROM pg_catalog.pg_cursors WHERE name OPERATOR(pg_catalog.<>) '') " +
  'FROM pg_catalog.pg_advisory_unlock_all() AS released'
