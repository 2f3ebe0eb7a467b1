/**
 * The reviewed data: builtin allowlist, denylist, readable settings, EXPLAIN options and the node
 * allowlist. These tests keep the lists honest as they grow.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { NODE_FIELDS } from '../../../src/sql/postgres-node-fields.js'
import { BUILTIN_FUNCTIONS, isAllowedBuiltinFunction } from '../../../src/sql/rules/postgres-builtin-functions.js'
import {
  DENIED_FUNCTION_PREFIXES,
  DENIED_FUNCTIONS,
  deniedFunction,
} from '../../../src/sql/rules/postgres-denied-functions.js'
import { EXPLAIN_OPTIONS, explainOption } from '../../../src/sql/rules/postgres-explain-options.js'
import { isReadableSetting, READABLE_SETTINGS, SENSITIVE_SETTING_PATTERNS } from '../../../src/sql/rules/postgres-settings.js'

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/

describe('builtin function allowlist', () => {
  test('has several hundred unique, lower-case names, each with a reason', () => {
    const names = BUILTIN_FUNCTIONS.map((entry) => entry.name)
    assert.ok(names.length >= 300, `only ${names.length} names`)
    assert.equal(new Set(names).size, names.length, 'duplicate names')
    for (const entry of BUILTIN_FUNCTIONS) {
      assert.match(entry.name, IDENTIFIER)
      assert.ok(entry.reason.length > 10, entry.name)
    }
  })

  test('is disjoint from the denylist, prefixes included', () => {
    const overlap = BUILTIN_FUNCTIONS.filter((entry) => deniedFunction(entry.name) !== undefined).map((entry) => entry.name)
    assert.deepEqual(overlap, [])
  })

  test('keeps what analysts use and what attribute notation on common column names resolves to', () => {
    for (const name of [
      'count', 'sum', 'avg', 'date_trunc', 'generate_series', 'string_agg', 'percentile_cont', 'jsonb_path_query',
      'regexp_replace', 'pg_typeof', 'version', 'pg_size_pretty', 'pg_total_relation_size', 'current_setting',
      'name', 'text', 'date', 'oid', 'length', 'lower', 'upper', 'format_type', 'has_table_privilege',
      'extract', 'timezone', 'like_escape', 'similar_to_escape', 'btrim', 'pg_get_functiondef',
    ]) {
      assert.ok(isAllowedBuiltinFunction(name), name)
    }
  })

  test('is matched exactly (names arrive folded; quoted upper case is another name)', () => {
    assert.ok(isAllowedBuiltinFunction('lower'))
    assert.ok(!isAllowedBuiltinFunction('LOWER'))
  })
})

describe('function denylist', () => {
  test('covers the known bypass classes', () => {
    for (const name of [
      'pg_sleep', 'pg_sleep_for', 'pg_sleep_until', 'set_config', 'nextval', 'setval', 'currval', 'lastval',
      'txid_current', 'pg_current_xact_id', 'pg_advisory_lock', 'pg_advisory_xact_lock', 'pg_try_advisory_lock',
      'pg_advisory_unlock_all', 'pg_cancel_backend', 'pg_terminate_backend', 'pg_reload_conf', 'pg_rotate_logfile',
      'pg_notify', 'pg_logical_emit_message', 'pg_stat_reset', 'pg_stat_reset_shared', 'pg_read_file',
      'pg_read_binary_file', 'pg_stat_file', 'pg_ls_dir', 'pg_ls_waldir', 'lo_import', 'lo_export', 'lo_create',
      'loread', 'query_to_xml', 'query_to_xml_and_xmlschema', 'cursor_to_xml', 'table_to_xml', 'schema_to_xml',
      'database_to_xml', 'dblink', 'dblink_exec', 'dblink_connect', 'pg_backup_start', 'pg_switch_wal',
      'pg_create_logical_replication_slot', 'pg_import_system_collations', 'binary_upgrade_set_next_pg_type_oid',
      'brin_summarize_new_values', 'gin_clean_pending_list', 'pg_prewarm', 'pg_visibility_map', 'ts_stat',
      'ts_rewrite', 'setseed', 'pg_replication_origin_create',
    ]) {
      assert.ok(deniedFunction(name) !== undefined, name)
    }
  })

  test('matches on the folded name', () => {
    assert.ok(deniedFunction('PG_SLEEP') !== undefined)
    assert.ok(deniedFunction('Set_Config') !== undefined)
    assert.equal(deniedFunction('lower'), undefined)
  })

  test('entries are unique and carry reasons', () => {
    const names = DENIED_FUNCTIONS.map((entry) => entry.name)
    assert.equal(new Set(names).size, names.length)
    for (const entry of [...DENIED_FUNCTIONS, ...DENIED_FUNCTION_PREFIXES]) assert.ok(entry.reason.length > 5)
  })
})

describe('readable settings', () => {
  test('include what clients need and nothing sensitive', () => {
    for (const name of ['server_version', 'server_version_num', 'TimeZone', 'DateStyle', 'search_path', 'statement_timeout', 'transaction_read_only']) {
      assert.ok(isReadableSetting(name), name)
    }
    for (const setting of READABLE_SETTINGS) {
      assert.equal(setting.name, setting.name.toLowerCase())
      for (const pattern of SENSITIVE_SETTING_PATTERNS) {
        assert.ok(!pattern.test(setting.name), `${setting.name} matches ${String(pattern)}`)
      }
    }
  })

  test('refuse SHOW ALL, paths, commands, passwords and custom settings', () => {
    for (const name of [
      'all', 'data_directory', 'config_file', 'hba_file', 'ident_file', 'external_pid_file', 'ssl_key_file',
      'ssl_cert_file', 'ssl_passphrase_command', 'primary_conninfo', 'archive_command', 'restore_command',
      'log_directory', 'unix_socket_directories', 'password_encryption', 'shared_preload_libraries',
      'dynamic_library_path', 'application_name', 'session_authorization', 'role', 'sqlwarden.principal',
      'app.tenant_id', 'SQLWARDEN.PRINCIPAL',
    ]) {
      assert.ok(!isReadableSetting(name), name)
    }
  })
})

describe('EXPLAIN options', () => {
  test('ANALYZE and the options that need it are not reviewed', () => {
    for (const name of ['analyze', 'analyse', 'buffers', 'wal', 'timing', 'serialize']) assert.equal(explainOption(name), undefined)
    assert.deepEqual(EXPLAIN_OPTIONS.map((option) => option.name).sort(), ['costs', 'format', 'generic_plan', 'memory', 'settings', 'summary', 'verbose'])
  })
})

describe('node allowlist', () => {
  test('every typed field names a listed node type', () => {
    const codes = new Set(['s', 'n', 'w', 'h'])
    for (const [type, fields] of Object.entries(NODE_FIELDS)) {
      for (const [field, kind] of Object.entries(fields ?? {})) {
        assert.ok(codes.has(kind) || NODE_FIELDS[kind] !== undefined, `${type}.${field}: ${kind}`)
      }
    }
  })

  test('lists no statement but SelectStmt and none of the refused nodes', () => {
    const types = Object.keys(NODE_FIELDS)
    assert.deepEqual(types.filter((type) => type.endsWith('Stmt')), ['SelectStmt'])
    for (const refused of [
      'IntoClause', 'LockingClause', 'SetToDefault', 'CurrentOfExpr', 'MultiAssignRef', 'MergeSupportFunc',
      'DefElem', 'RoleSpec', 'RawStmt', 'Query', 'FuncExpr', 'OpExpr', 'Var', 'Param', 'NullIfExpr', 'SubPlan',
      'TargetEntry', 'RangeTblEntry', 'Constraint', 'ReturningClause',
    ]) {
      assert.equal(NODE_FIELDS[refused], undefined, refused)
    }
  })

  test('is a null-prototype table', () => {
    assert.equal(NODE_FIELDS['constructor'], undefined)
    assert.equal(NODE_FIELDS['toString'], undefined)
    assert.equal(NODE_FIELDS['A_Const']?.['constructor'], undefined)
    assert.equal(NODE_FIELDS['JsonObjectAgg']?.['constructor'], 'JsonAggConstructor')
  })
})
