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
  RelationInfo,
  TypeInfo,
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
  'listSchemas' | 'listTables' | 'describeTable' | 'lookupFunctions' | 'lookupOperators' | 'lookupRelations' | 'lookupTypes' | 'inspectRole'
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

/**
 * `$1` schemas ('' when unqualified), `$2` names, `$3` the effective search path. An unqualified
 * name resolves to the first schema on the path holding a relation of that name, whatever its kind,
 * as RangeVarGetRelid does. For views and materialized views, the rewrite rules' dependencies give
 * what the definition reads (column by column; refobjsubid 0 is the whole relation) and calls,
 * followed through nested views up to a fixed depth; pg_inherits gives children and partitions.
 * Privileges are not consulted: this answers what a name means, the policy decides on it.
 */
const RELATIONS_SQL = `WITH RECURSIVE wanted AS (
  SELECT w.nsp, w.rel, w.ord FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(nsp, rel, ord)
), resolved AS (
  SELECT DISTINCT ON (w.ord) w.ord, c.oid, n.nspname, c.relname, c.relkind
  FROM wanted w
  JOIN pg_class c ON c.relname = w.rel
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN unnest($3::text[]) WITH ORDINALITY AS p(nsp, pos) ON p.nsp = n.nspname
  WHERE CASE WHEN w.nsp = '' THEN p.pos IS NOT NULL ELSE n.nspname = w.nsp END
  ORDER BY w.ord, p.pos
), deps(root, objid, refclassid, refobjid, refobjsubid, depth) AS (
  SELECT r.oid, d.objid, d.refclassid, d.refobjid, d.refobjsubid, 1
  FROM resolved r JOIN pg_rewrite rw ON rw.ev_class = r.oid
  JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
  WHERE r.relkind IN ('v', 'm') AND NOT (d.refclassid = 'pg_class'::regclass AND d.refobjid = r.oid)
  UNION
  SELECT deps.root, d.objid, d.refclassid, d.refobjid, d.refobjsubid, deps.depth + 1
  FROM deps JOIN pg_class c ON deps.refclassid = 'pg_class'::regclass AND c.oid = deps.refobjid AND c.relkind IN ('v', 'm')
  JOIN pg_rewrite rw ON rw.ev_class = c.oid
  JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
  WHERE deps.depth < 64 AND NOT (d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid)
), kin(root, relid, depth) AS (
  SELECT r.oid, i.inhrelid, 1 FROM resolved r JOIN pg_inherits i ON i.inhparent = r.oid
  UNION
  SELECT kin.root, i.inhrelid, kin.depth + 1 FROM kin JOIN pg_inherits i ON i.inhparent = kin.relid WHERE kin.depth < 64
)
SELECT r.ord, r.nspname, r.relname, r.relkind::text,
  (SELECT coalesce(json_agg(a.attname ORDER BY a.attnum), '[]') FROM pg_attribute a
    WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped),
  (SELECT coalesce(json_agg(DISTINCT jsonb_build_object('schema', dn.nspname, 'name', dc.relname, 'column', da.attname)), '[]')
    FROM deps d JOIN pg_class dc ON dc.oid = d.refobjid JOIN pg_namespace dn ON dn.oid = dc.relnamespace
    LEFT JOIN pg_attribute da ON da.attrelid = d.refobjid AND da.attnum = d.refobjsubid AND d.refobjsubid > 0
    WHERE d.root = r.oid AND d.refclassid = 'pg_class'::regclass),
  (SELECT coalesce(json_agg(DISTINCT jsonb_build_object('schema', fn.nspname, 'name', f.proname)), '[]')
    FROM deps d LEFT JOIN pg_operator o ON d.refclassid = 'pg_operator'::regclass AND o.oid = d.refobjid
    JOIN pg_proc f ON f.oid = CASE WHEN d.refclassid = 'pg_proc'::regclass THEN d.refobjid ELSE o.oprcode::oid END
    JOIN pg_namespace fn ON fn.oid = f.pronamespace
    WHERE d.root = r.oid AND d.refclassid IN ('pg_proc'::regclass, 'pg_operator'::regclass)),
  (SELECT coalesce(json_agg(jsonb_build_object('schema', kn.nspname, 'name', kc.relname, 'columns',
      (SELECT coalesce(jsonb_agg(a.attname ORDER BY a.attnum), '[]') FROM pg_attribute a
        WHERE a.attrelid = kc.oid AND a.attnum > 0 AND NOT a.attisdropped))), '[]')
    FROM (SELECT DISTINCT relid FROM kin WHERE kin.root = r.oid) k
    JOIN pg_class kc ON kc.oid = k.relid JOIN pg_namespace kn ON kn.oid = kc.relnamespace),
  (SELECT bool_or(d.depth >= 64) FROM deps d WHERE d.root = r.oid) OR (SELECT bool_or(k.depth >= 64) FROM kin k WHERE k.root = r.oid)
FROM resolved r
ORDER BY r.ord`

/**
 * `$1` schemas ('' when unqualified), `$2` names, `$3` the effective search path: each type name as
 * the engine resolves it, with the relation behind a row type (or behind an array of row types).
 */
const TYPES_SQL = `SELECT DISTINCT ON (w.ord) w.ord, n.nspname, t.typname, rn.nspname, rc.relname
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(nsp, typ, ord)
JOIN pg_type t ON t.typname = w.typ
JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN unnest($3::text[]) WITH ORDINALITY AS p(nsp, pos) ON p.nsp = n.nspname
LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typrelid = 0
LEFT JOIN pg_class rc ON rc.oid = CASE WHEN t.typrelid <> 0 THEN t.typrelid ELSE e.typrelid END
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE CASE WHEN w.nsp = '' THEN p.pos IS NOT NULL ELSE n.nspname = w.nsp END
ORDER BY w.ord, p.pos`

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
  /** Runs a name-resolution query: `$1` schemas ('' when unqualified), `$2` names, `$3` the path. */
  const resolveNames = async (sql: string, names: readonly { readonly schema: string | null; readonly name: string }[]) => {
    const result = await run(sql, [
      textArray(names.map((n) => n.schema ?? '')),
      textArray(names.map((n) => n.name)),
      textArray(effectivePath),
    ])
    return result.ok ? complete(result.value) : result
  }

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

    async lookupRelations(names) {
      if (names.length === 0) return ok([])
      const rows = await resolveNames(RELATIONS_SQL, names)
      if (!rows.ok) return rows
      const out: (RelationInfo | null)[] = names.map(() => null)
      for (const r of rows.value.rows) {
        // A dependency chain deeper than we follow could hide a read: undecidable, so refused.
        if (r[8] === true) return fail('ERR_POLICY_DENIED', { subject: 'relation_depth' })
        const field = (value: JsonValue, key: string): JsonValue | undefined =>
          value !== null && typeof value === 'object' && !Array.isArray(value) ? value[key] : undefined
        const list = (value: JsonValue | undefined): JsonValue[] => (Array.isArray(value) ? value : [])
        out[Number(r[0]) - 1] = {
          schema: str(r[1]),
          name: str(r[2]),
          kind: str(r[3]),
          columns: strings(r[4]),
          reads: list(r[5]).map((d) => ({
            schema: str(field(d, 'schema')),
            name: str(field(d, 'name')),
            column: strOrNull(field(d, 'column')),
          })),
          calls: list(r[6]).map((d) => ({ schema: str(field(d, 'schema')), name: str(field(d, 'name')) })),
          descendants: list(r[7]).map((d) => ({
            schema: str(field(d, 'schema')),
            name: str(field(d, 'name')),
            columns: strings(field(d, 'columns')),
          })),
        }
      }
      return ok(out)
    },

    async lookupTypes(names) {
      if (names.length === 0) return ok([])
      const rows = await resolveNames(TYPES_SQL, names)
      if (!rows.ok) return rows
      const out: (TypeInfo | null)[] = names.map(() => null)
      for (const r of rows.value.rows) {
        out[Number(r[0]) - 1] = {
          schema: str(r[1]),
          name: str(r[2]),
          relation: typeof r[4] === 'string' ? { schema: str(r[3]), name: r[4] } : null,
        }
      }
      return ok(out)
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
