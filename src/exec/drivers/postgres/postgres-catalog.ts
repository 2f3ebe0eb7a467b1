/**
 * Catalog methods of the PostgreSQL driver. All SQL here is our own constant text with bound
 * parameters, and it runs through the same read path as user statements (read-only transaction,
 * timeouts, caps), with search_path set to pg_catalog alone so that no schema a role can create
 * objects in can shadow a catalog function or operator (CVE-2018-1058 class).
 */
import { fail, ok, type Result } from '../../../util/result.js'
import type {
  CallLimits,
  FunctionInfo,
  JsonValue,
  OperatorInfo,
  RoleReport,
  SchemaEntry,
  SourceDriver,
  TableDescription,
  TableEntry,
} from '../driver.js'
import type { PortalRows } from './postgres-portal-query.js'
import { ROLE_SQL } from './postgres-role-sql.js'

export interface CatalogDeps {
  /** Runs trusted SQL; `limits` absent means the driver's catalog limits. */
  readonly run: (sql: string, params: readonly (string | null)[], limits?: CallLimits) => Promise<Result<PortalRows>>
  readonly searchPath: readonly string[]
}

type CatalogMethods = Pick<
  SourceDriver,
  'listSchemas' | 'listTables' | 'describeTable' | 'lookupFunctions' | 'lookupOperators' | 'inspectRole'
>

const SYSTEM_SCHEMA_FILTER = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname !~ '^pg_(toast_)?temp_'`

const LIST_SCHEMAS_SQL = `SELECT n.nspname, pg_get_userbyid(n.nspowner), obj_description(n.oid, 'pg_namespace')
FROM pg_namespace n
WHERE ${SYSTEM_SCHEMA_FILTER} AND has_schema_privilege(n.oid, 'USAGE')
ORDER BY n.nspname`

/** `$1` null: every non-system schema; otherwise exactly that schema (system schemas when asked). */
const LIST_TABLES_SQL = `SELECT n.nspname, c.relname, c.relkind,
  CASE WHEN c.relkind IN ('r', 'm', 'f') AND c.reltuples >= 0 THEN c.reltuples::float8 END,
  obj_description(c.oid, 'pg_class')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p')
  AND CASE WHEN $1::text IS NULL THEN ${SYSTEM_SCHEMA_FILTER} ELSE n.nspname = $1::text END
  AND has_schema_privilege(n.oid, 'USAGE') AND has_any_column_privilege(c.oid, 'SELECT')
ORDER BY n.nspname, c.relname`

/** Attribute names of `keys` (an int2[] of attnums) on `rel`, in key order, as a json array. */
const keyNames = (keys: string, rel: string) =>
  `(SELECT coalesce(json_agg(a.attname ORDER BY k.ord), '[]') FROM unnest(${keys}) WITH ORDINALITY k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = ${rel} AND a.attnum = k.attnum)`

/**
 * `$1` schema or null, `$2` table, `$3` the effective search path (text[]): an unqualified name
 * resolves to the first schema on the path that has it, as the engine resolves it.
 */
const DESCRIBE_TABLE_SQL = `WITH target AS (
  SELECT c.oid, n.nspname, c.relname, c.relkind
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relname = $2::text AND c.relkind IN ('r', 'v', 'm', 'f', 'p')
    AND CASE WHEN $1::text IS NULL THEN n.nspname = ANY ($3::text[]) ELSE n.nspname = $1::text END
  ORDER BY array_position($3::text[], n.nspname::text)
  LIMIT 1
)
SELECT t.nspname, t.relname, t.relkind, obj_description(t.oid, 'pg_class'),
  has_schema_privilege(t.nspname, 'USAGE') AND has_any_column_privilege(t.oid, 'SELECT'),
  (SELECT coalesce(json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
      'nullable', NOT a.attnotnull, 'default', pg_get_expr(d.adbin, d.adrelid), 'comment', col_description(t.oid, a.attnum))
      ORDER BY a.attnum), '[]')
    FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped AND has_column_privilege(t.oid, a.attnum, 'SELECT')),
  (SELECT coalesce(json_agg(${keyNames('con.conkey', 'con.conrelid')}), '[]')->0
    FROM pg_constraint con WHERE con.conrelid = t.oid AND con.contype = 'p'),
  (SELECT coalesce(json_agg(json_build_object('name', con.conname, 'columns', ${keyNames('con.conkey', 'con.conrelid')},
      'referencedSchema', rn.nspname, 'referencedTable', rc.relname,
      'referencedColumns', ${keyNames('con.confkey', 'con.confrelid')}) ORDER BY con.conname), '[]')
    FROM pg_constraint con JOIN pg_class rc ON rc.oid = con.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace
    WHERE con.conrelid = t.oid AND con.contype = 'f'),
  (SELECT coalesce(json_agg(json_build_object('name', ic.relname, 'unique', i.indisunique, 'primary', i.indisprimary,
      'definition', pg_get_indexdef(i.indexrelid)) ORDER BY ic.relname), '[]')
    FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = t.oid)
FROM target t`

/** Candidates in every schema; the function policy decides which of them a call may resolve to. */
const FUNCTIONS_SQL = `SELECT n.nspname, p.proname, p.pronargs, p.provolatile, p.prosecdef, p.prokind
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.proname = ANY ($1::text[])
ORDER BY n.nspname, p.proname, p.pronargs, p.oid`

const OPERATORS_SQL = `SELECT o_n.nspname, o.oprname, f_n.nspname, p.proname, p.pronargs, p.provolatile, p.prosecdef, p.prokind
FROM pg_operator o JOIN pg_namespace o_n ON o_n.oid = o.oprnamespace
JOIN pg_proc p ON p.oid = o.oprcode JOIN pg_namespace f_n ON f_n.oid = p.pronamespace
WHERE o.oprname = ANY ($1::text[])
ORDER BY o_n.nspname, o.oprname, o.oid`

const KINDS: Readonly<Record<string, TableEntry['kind']>> = {
  r: 'table',
  v: 'view',
  m: 'materialized_view',
  f: 'foreign_table',
  p: 'partitioned_table',
}

const str = (value: JsonValue | undefined): string => (typeof value === 'string' ? value : String(value ?? ''))
const strOrNull = (value: JsonValue | undefined): string | null => (typeof value === 'string' ? value : null)
const strings = (value: JsonValue | undefined): string[] => (Array.isArray(value) ? value.map(str) : [])

/** A PostgreSQL text[] literal: every element quoted, so names with commas or braces survive. */
function textArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`
}

/** Lookups feed security decisions: an incomplete answer is an error, never a shorter list. */
function complete(rows: PortalRows): Result<PortalRows> {
  return rows.truncatedBy === null ? ok(rows) : fail('ERR_EXEC_RESOURCE_LIMIT', { subject: `catalog_${rows.truncatedBy}` })
}

function functionInfo(row: readonly JsonValue[], at: number): FunctionInfo {
  return {
    schema: str(row[at]),
    name: str(row[at + 1]),
    argCount: Number(row[at + 2]),
    volatility: str(row[at + 3]) as FunctionInfo['volatility'],
    securityDefiner: row[at + 4] === true,
    kind: str(row[at + 5]) as FunctionInfo['kind'],
  }
}

export function createPostgresCatalog(deps: CatalogDeps): CatalogMethods {
  const { run } = deps
  /** The engine searches pg_catalog first unless the path places it explicitly. */
  const effectivePath = deps.searchPath.includes('pg_catalog') ? [...deps.searchPath] : ['pg_catalog', ...deps.searchPath]

  return {
    async listSchemas(limits) {
      const result = await run(LIST_SCHEMAS_SQL, [], limits)
      if (!result.ok) return result
      return ok(result.value.rows.map((r): SchemaEntry => ({ name: str(r[0]), owner: str(r[1]), comment: strOrNull(r[2]) })))
    },

    async listTables(schema, limits) {
      const result = await run(LIST_TABLES_SQL, [schema], limits)
      if (!result.ok) return result
      return ok(
        result.value.rows.map(
          (r): TableEntry => ({
            schema: str(r[0]),
            name: str(r[1]),
            kind: KINDS[str(r[2])] ?? 'table',
            estimatedRows: typeof r[3] === 'number' ? Math.round(r[3]) : null,
            comment: strOrNull(r[4]),
          }),
        ),
      )
    },

    async describeTable(schema, table, limits) {
      const result = await run(DESCRIBE_TABLE_SQL, [schema, table, textArray(effectivePath)], limits)
      if (!result.ok) return result
      if (result.value.truncatedBy === 'bytes') return fail('ERR_EXEC_RESOURCE_LIMIT', { subject: 'max_bytes' })
      const row = result.value.rows[0]
      if (row === undefined || row[4] !== true) return ok(null)
      const columns = Array.isArray(row[5]) ? row[5] : []
      const fks = Array.isArray(row[7]) ? row[7] : []
      const indexes = Array.isArray(row[8]) ? row[8] : []
      const field = (value: JsonValue, key: string): JsonValue | undefined =>
        value !== null && typeof value === 'object' && !Array.isArray(value) ? value[key] : undefined
      const description: TableDescription = {
        schema: str(row[0]),
        name: str(row[1]),
        kind: KINDS[str(row[2])] ?? 'table',
        comment: strOrNull(row[3]),
        columns: columns.map((c) => ({
          name: str(field(c, 'name')),
          type: str(field(c, 'type')),
          nullable: field(c, 'nullable') === true,
          default: strOrNull(field(c, 'default')),
          comment: strOrNull(field(c, 'comment')),
        })),
        primaryKey: strings(row[6]),
        foreignKeys: fks.map((f) => ({
          name: str(field(f, 'name')),
          columns: strings(field(f, 'columns')),
          referencedSchema: str(field(f, 'referencedSchema')),
          referencedTable: str(field(f, 'referencedTable')),
          referencedColumns: strings(field(f, 'referencedColumns')),
        })),
        indexes: indexes.map((i) => ({
          name: str(field(i, 'name')),
          unique: field(i, 'unique') === true,
          primary: field(i, 'primary') === true,
          definition: str(field(i, 'definition')),
        })),
      }
      return ok(description)
    },

    async lookupFunctions(names) {
      if (names.length === 0) return ok([])
      const result = await run(FUNCTIONS_SQL, [textArray(names)])
      if (!result.ok) return result
      const rows = complete(result.value)
      if (!rows.ok) return rows
      return ok(rows.value.rows.map((r) => functionInfo(r, 0)))
    },

    async lookupOperators(names) {
      if (names.length === 0) return ok([])
      const result = await run(OPERATORS_SQL, [textArray(names)])
      if (!result.ok) return result
      const rows = complete(result.value)
      if (!rows.ok) return rows
      return ok(
        rows.value.rows.map((r): OperatorInfo => ({ schema: str(r[0]), name: str(r[1]), function: functionInfo(r, 2) })),
      )
    },

    async inspectRole() {
      const result = await run(ROLE_SQL, [])
      if (!result.ok) return result
      const rows = complete(result.value)
      if (!rows.ok) return rows
      const r = rows.value.rows[0]
      if (r === undefined) return fail('ERR_INTERNAL', { subject: 'role_not_found' })
      const report: RoleReport = {
        role: str(r[0]),
        superuser: r[1] === true,
        bypassRls: r[2] === true,
        createRole: r[3] === true,
        createDb: r[4] === true,
        replication: r[5] === true,
        memberOf: strings(r[6]),
        writePrivileges: strings(r[7]),
        serverVersion: str(r[8]),
      }
      return ok(report)
    },
  }
}
