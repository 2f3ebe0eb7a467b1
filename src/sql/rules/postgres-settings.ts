/**
 * The reviewed settings that `SHOW name` and `current_setting('name')` may read. Everything else is
 * refused (ERR_SQL_FORBIDDEN_SETTING): `SHOW ALL`, file and directory paths (`data_directory`,
 * `config_file`, `hba_file`, `ssl_key_file`…), connection strings (`primary_conninfo`), shell
 * commands (`archive_command`, `restore_command`, `ssl_passphrase_command`), library paths, logging
 * layout, and every custom `x.y` setting, which includes sqlwarden's own transaction-local
 * identity settings (`sqlwarden.principal`) and applications' `app.*` settings that often carry
 * tenant ids or secrets for row-level security.
 *
 * PostgreSQL matches setting names case-insensitively (guc.c `guc_name_compare`), so lookups here
 * fold to lower case. The data is an allowlist on purpose: a new PostgreSQL release adds settings,
 * and a new setting stays unreadable until someone reviews it.
 */

export interface ReadableSetting {
  readonly name: string
  readonly reason: string
}

const group = (reason: string, names: readonly string[]): ReadableSetting[] =>
  names.map((name) => ({ name, reason }))

export const READABLE_SETTINGS: readonly ReadableSetting[] = Object.freeze([
  ...group('server version, needed to pick SQL syntax; also in version()', [
    'server_version',
    'server_version_num',
  ]),
  ...group('how dates, times, numbers and text are formatted in results', [
    'timezone',
    'datestyle',
    'intervalstyle',
    'extra_float_digits',
    'bytea_output',
    'xmlbinary',
    'xmloption',
    'lc_monetary',
    'lc_numeric',
    'lc_time',
    'lc_messages',
    'timezone_abbreviations',
    'default_text_search_config',
  ]),
  ...group('encoding and string-literal rules, needed to write correct literals', [
    'client_encoding',
    'server_encoding',
    'standard_conforming_strings',
    'backslash_quote',
    'escape_string_warning',
    'array_nulls',
    'quote_all_identifiers',
  ]),
  // lc_collate/lc_ctype stopped being settings in PostgreSQL 16; on older servers they only name the
  // database collation, which pg_database shows anyway.
  ...group('database collation on servers before PostgreSQL 16 (pg_database.datcollate shows it too)', [
    'lc_collate',
    'lc_ctype',
  ]),
  ...group('compile-time limits of the server, public in the documentation', [
    'max_identifier_length',
    'max_function_args',
    'max_index_keys',
    'integer_datetimes',
    'block_size',
    'segment_size',
    'wal_block_size',
    'data_checksums',
  ]),
  ...group('name resolution for unqualified names, needed to explain which table a query reads', [
    'search_path',
    'row_security',
    'transform_null_equals',
  ]),
  ...group('the limits and mode of the current transaction, which sqlwarden itself sets', [
    'statement_timeout',
    'lock_timeout',
    'idle_in_transaction_session_timeout',
    'transaction_timeout',
    'transaction_read_only',
    'transaction_isolation',
    'transaction_deferrable',
    'default_transaction_read_only',
    'default_transaction_isolation',
    'default_transaction_deferrable',
    'in_hot_standby',
  ]),
  ...group('planner settings, needed to read an EXPLAIN plan; no secrets, no paths', [
    'work_mem',
    'hash_mem_multiplier',
    'maintenance_work_mem',
    'effective_cache_size',
    'effective_io_concurrency',
    'random_page_cost',
    'seq_page_cost',
    'cpu_tuple_cost',
    'cpu_index_tuple_cost',
    'cpu_operator_cost',
    'parallel_setup_cost',
    'parallel_tuple_cost',
    'max_parallel_workers_per_gather',
    'max_parallel_workers',
    'default_statistics_target',
    'constraint_exclusion',
    'cursor_tuple_fraction',
    'from_collapse_limit',
    'join_collapse_limit',
    'geqo',
    'geqo_threshold',
    'jit',
    'jit_above_cost',
    'plan_cache_mode',
    'recursive_worktable_factor',
    'enable_async_append',
    'enable_bitmapscan',
    'enable_distinct_reordering',
    'enable_gathermerge',
    'enable_group_by_reordering',
    'enable_hashagg',
    'enable_hashjoin',
    'enable_incremental_sort',
    'enable_indexonlyscan',
    'enable_indexscan',
    'enable_material',
    'enable_memoize',
    'enable_mergejoin',
    'enable_nestloop',
    'enable_parallel_append',
    'enable_parallel_hash',
    'enable_partition_pruning',
    'enable_partitionwise_aggregate',
    'enable_partitionwise_join',
    'enable_presorted_aggregate',
    'enable_self_join_elimination',
    'enable_seqscan',
    'enable_sort',
    'enable_tidscan',
  ]),
  ...group('server capacity a query author may need to size a query; no secrets, no paths', [
    'max_connections',
    'shared_buffers',
    'temp_buffers',
  ]),
  { name: 'is_superuser', reason: 'whether the connected role is a superuser; sqlwarden refuses to start as one anyway' },
])

/**
 * Patterns no allowlisted setting may match (checked by a test, so that a careless addition of, say,
 * `ssl_key_file` to the list above fails CI). Not used at runtime: the allowlist decides.
 */
export const SENSITIVE_SETTING_PATTERNS: readonly RegExp[] = Object.freeze([
  /_file$/,
  /_directory$/,
  /_directories$/,
  /^ssl/,
  /password/,
  /passphrase/,
  /conninfo/,
  /_command$/,
  /librar(y|ies)/,
  /^log_/,
  /^listen_addresses$/,
  /^port$/,
  /^application_name$/,
  /^session_authorization$/,
  /^role$/,
  /^cluster_name$/,
  /^krb_/,
  /^oauth/,
  /^primary_/,
  /^recovery_/,
  /^archive_/,
  /\./,
])

const readable: ReadonlySet<string> = new Set(READABLE_SETTINGS.map((setting) => setting.name))

/**
 * True when `SHOW name` / `current_setting('name')` may read the setting. Not readable on purpose:
 * `all` (SHOW ALL prints every setting), `application_name` (set by the pool and may name the
 * deployment or the principal), `session_authorization` and `role` (identity is sqlwarden's to
 * report, not the agent's to probe), and any `prefix.name` custom setting.
 */
export function isReadableSetting(name: string): boolean {
  return readable.has(name.toLowerCase())
}
