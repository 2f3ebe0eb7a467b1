/**
 * Functions known to be dangerous on a read-only source, by name. This list wins over everything:
 * over the builtin allowlist, over a user function of the same name that would pass the UDF rule,
 * and over the configured `allowFunctions`. It exists as a second, independent check so that one
 * bad edit to the allowlist (or a user schema shadowing a name) cannot reopen a known bypass; a test
 * keeps it disjoint from postgres-builtin-functions.ts.
 *
 * The classes (DESIGN.md §4): side effects a `READ ONLY` transaction does not stop (signals,
 * advisory locks that outlive the call, notifications, WAL messages, statistics resets, session
 * settings), disclosure of server files and internals, SQL given as a string (dynamic SQL that the
 * parser never sees), tables named by a string (bypassing the table allowlist), other connections
 * (dblink, HTTP), and writes that read-only mode may not cover in every version (sequences, large
 * objects, xid assignment).
 *
 * Names are compared after folding to lower case, so a quoted `"PG_SLEEP"` (which PostgreSQL would
 * not resolve to pg_sleep, but a user could create) is refused too.
 */

export interface DeniedFunction {
  readonly name: string
  readonly reason: string
}

export interface DeniedFunctionPrefix {
  readonly prefix: string
  readonly reason: string
}

const group = (reason: string, names: readonly string[]): DeniedFunction[] => names.map((name) => ({ name, reason }))

export const DENIED_FUNCTIONS: readonly DeniedFunction[] = Object.freeze([
  ...group('sleeps: holds a connection and a concurrency slot for as long as the caller likes', [
    'pg_sleep',
    'pg_sleep_for',
    'pg_sleep_until',
  ]),
  ...group('changes a session setting; with is_local = false it outlives the transaction on a pooled connection', [
    'set_config',
  ]),
  ...group('changes session state (the random seed) that outlives the transaction on a pooled connection', ['setseed']),
  ...group('sequence functions: nextval/setval write even in a read-only transaction on some versions; currval/lastval read another call\'s session state', [
    'nextval',
    'setval',
    'currval',
    'lastval',
  ]),
  ...group('assigns a transaction id: a write, and it fails in a read-only transaction only on some versions', [
    'txid_current',
    'pg_current_xact_id',
  ]),
  ...group('advisory locks: session-level ones outlive the transaction on a pooled connection; transaction-level ones still block other sessions', [
    'pg_advisory_lock',
    'pg_advisory_lock_shared',
    'pg_advisory_unlock',
    'pg_advisory_unlock_shared',
    'pg_advisory_unlock_all',
    'pg_advisory_xact_lock',
    'pg_advisory_xact_lock_shared',
    'pg_try_advisory_lock',
    'pg_try_advisory_lock_shared',
    'pg_try_advisory_xact_lock',
    'pg_try_advisory_xact_lock_shared',
  ]),
  ...group('signals or controls other backends or the server', [
    'pg_cancel_backend',
    'pg_terminate_backend',
    'pg_signal_backend',
    'pg_reload_conf',
    'pg_rotate_logfile',
    'pg_rotate_logfile_old',
    'pg_promote',
    'pg_wal_replay_pause',
    'pg_wal_replay_resume',
    'pg_log_backend_memory_contexts',
    'pg_log_standby_snapshot',
  ]),
  ...group('sends a notification to other sessions; NOTIFY is not stopped by a read-only transaction', ['pg_notify']),
  ...group('writes a message into the WAL even in a read-only transaction', ['pg_logical_emit_message']),
  ...group('WAL, backup and replication control: writes server state', [
    'pg_switch_wal',
    'pg_create_restore_point',
    'pg_backup_start',
    'pg_backup_stop',
    'pg_start_backup',
    'pg_stop_backup',
    'pg_create_physical_replication_slot',
    'pg_create_logical_replication_slot',
    'pg_drop_replication_slot',
    'pg_copy_physical_replication_slot',
    'pg_copy_logical_replication_slot',
    'pg_replication_slot_advance',
    'pg_logical_slot_get_changes',
    'pg_logical_slot_peek_changes',
    'pg_logical_slot_get_binary_changes',
    'pg_logical_slot_peek_binary_changes',
    'pg_sync_replication_slots',
    'pg_export_snapshot',
  ]),
  ...group('resets or flushes shared statistics', ['pg_stat_clear_snapshot', 'pg_stat_force_next_flush']),
  ...group('writes the system catalogs', [
    'pg_import_system_collations',
    'pg_nextoid',
    'pg_stop_making_pinned_objects',
    'pg_extension_config_dump',
    'pg_restore_relation_stats',
    'pg_restore_attribute_stats',
    'pg_clear_relation_stats',
    'pg_clear_attribute_stats',
  ]),
  ...group('index and storage maintenance: writes or takes locks', [
    'brin_summarize_new_values',
    'brin_summarize_range',
    'brin_desummarize_range',
    'gin_clean_pending_list',
    'pg_prewarm',
    'autoprewarm_start_worker',
    'autoprewarm_dump_now',
    'pg_truncate_visibility_map',
  ]),
  ...group('reads server files: disclosure of configuration, keys and data files', [
    'pg_read_file',
    'pg_read_binary_file',
    'pg_stat_file',
    'pg_current_logfile',
    'pg_hba_file_rules',
    'pg_ident_file_mappings',
    'pg_show_all_file_settings',
    'pg_logdir_ls',
    'pg_file_read',
  ]),
  ...group('writes or removes server files (adminpack)', ['pg_file_write', 'pg_file_rename', 'pg_file_unlink', 'pg_file_sync']),
  ...group('discloses server internals, file layout or every setting (including the sensitive ones)', [
    'pg_show_all_settings',
    'pg_config',
    'pg_control_system',
    'pg_control_checkpoint',
    'pg_control_recovery',
    'pg_control_init',
    'pg_get_shmem_allocations',
    'pg_get_shmem_allocations_numa',
    'pg_get_backend_memory_contexts',
    'pg_get_loaded_modules',
    'pg_tablespace_location',
    'pg_relation_filepath',
    'inet_server_addr',
    'inet_server_port',
  ]),
  ...group('large objects: lo_import/lo_export read and write server files, the rest create, change or read large objects outside the table allowlist', [
    'lo_import',
    'lo_export',
    'lo_create',
    'lo_creat',
    'lo_unlink',
    'lo_open',
    'lo_close',
    'loread',
    'lowrite',
    'lo_lseek',
    'lo_lseek64',
    'lo_tell',
    'lo_tell64',
    'lo_truncate',
    'lo_truncate64',
    'lo_get',
    'lo_put',
    'lo_from_bytea',
  ]),
  ...group('runs SQL given as a string, which the parser gate never sees', [
    'query_to_xml',
    'query_to_xmlschema',
    'query_to_xml_and_xmlschema',
    'cursor_to_xml',
    'cursor_to_xmlschema',
    'ts_stat',
    'ts_rewrite',
  ]),
  ...group('reads a table, schema or database named by a string, bypassing the table allowlist', [
    'table_to_xml',
    'table_to_xmlschema',
    'table_to_xml_and_xmlschema',
    'schema_to_xml',
    'schema_to_xmlschema',
    'schema_to_xml_and_xmlschema',
    'database_to_xml',
    'database_to_xmlschema',
    'database_to_xml_and_xmlschema',
    'pgrowlocks',
  ]),
  ...group('opens another database connection (its own transaction, not read-only) and runs SQL there', [
    'dblink',
    'dblink_exec',
    'dblink_connect',
    'dblink_connect_u',
    'dblink_disconnect',
    'dblink_open',
    'dblink_fetch',
    'dblink_close',
    'dblink_send_query',
    'dblink_get_result',
    'dblink_is_busy',
    'dblink_cancel_query',
    'dblink_get_connections',
    'dblink_error_message',
    'dblink_get_notify',
    'dblink_build_sql_insert',
    'dblink_build_sql_update',
    'dblink_build_sql_delete',
    'postgres_fdw_disconnect',
    'postgres_fdw_disconnect_all',
    'postgres_fdw_get_connections',
  ]),
  ...group('extension functions that reach the network or run SQL in the background (pgsql-http, pg_net, pg_background, aws_s3)', [
    'http',
    'http_get',
    'http_post',
    'http_put',
    'http_patch',
    'http_delete',
    'http_head',
    'http_set_curlopt',
    'pg_background_launch',
    'pg_background_result',
    'pg_background_detach',
    'query_export_to_s3',
    'table_import_from_s3',
  ]),
])

/** Whole families, for names a future version or extension may add. Matched on the folded name. */
export const DENIED_FUNCTION_PREFIXES: readonly DeniedFunctionPrefix[] = Object.freeze([
  { prefix: 'pg_advisory_', reason: 'advisory locks outlive the call' },
  { prefix: 'pg_try_advisory_', reason: 'advisory locks outlive the call' },
  { prefix: 'pg_sleep', reason: 'sleeps' },
  { prefix: 'pg_stat_reset', reason: 'resets shared statistics (pg_stat_reset, _shared, _single_table_counters, _slru, …)' },
  { prefix: 'pg_ls_', reason: 'lists server directories (pg_ls_dir, pg_ls_logdir, pg_ls_waldir, pg_ls_tmpdir, …)' },
  { prefix: 'pg_read_', reason: 'reads server files' },
  { prefix: 'pg_file_', reason: 'adminpack file access' },
  { prefix: 'pg_replication_origin_', reason: 'replication origin control' },
  { prefix: 'pg_logical_', reason: 'logical decoding and WAL messages' },
  { prefix: 'pg_create_', reason: 'creates replication slots or restore points' },
  { prefix: 'pg_backup_', reason: 'backup control' },
  { prefix: 'pg_wal_replay_', reason: 'recovery control' },
  { prefix: 'pg_visibility', reason: 'visibility map inspection and repair (pg_visibility extension)' },
  { prefix: 'pg_check_', reason: 'visibility map checks (pg_visibility extension) take locks on relations named by oid' },
  { prefix: 'binary_upgrade_', reason: 'pg_upgrade internals that write the catalogs' },
  { prefix: 'lo_', reason: 'large objects' },
  { prefix: 'dblink', reason: 'other database connections' },
  { prefix: 'pg_background_', reason: 'runs SQL in a background worker' },
])

const deniedNames: ReadonlyMap<string, DeniedFunction> = new Map(DENIED_FUNCTIONS.map((entry) => [entry.name, entry]))

/** The denylist entry (or prefix) matching this function name after folding, or undefined. */
export function deniedFunction(name: string): DeniedFunction | DeniedFunctionPrefix | undefined {
  const folded = name.toLowerCase()
  const exact = deniedNames.get(folded)
  if (exact !== undefined) return exact
  for (const entry of DENIED_FUNCTION_PREFIXES) if (folded.startsWith(entry.prefix)) return entry
  return undefined
}
