/**
 * Column type OID → `format_type` name and value conversion. Built-in OIDs are fixed across
 * PostgreSQL versions, so they are a static table; any other OID (enums, composites, domains'
 * arrays, extension types) is resolved once per driver with TYPE_LOOKUP_SQL and cached.
 */
import type { ValueKind, ValueType } from './postgres-values.js'

export interface PgType extends ValueType {
  /** As `format_type(oid, NULL)` prints it: `integer`, `timestamp with time zone[]`, … */
  readonly name: string
}

/** [oid, array oid, format_type name, kind, element delimiter]. Everything else is `text`. */
const BASE_TYPES: readonly (readonly [number, number, string, ValueKind, string?])[] = [
  [16, 1000, 'boolean', 'bool'],
  [17, 1001, 'bytea', 'bytea'],
  [18, 1002, '"char"', 'text'],
  [19, 1003, 'name', 'text'],
  [20, 1016, 'bigint', 'text'],
  [21, 1005, 'smallint', 'int'],
  [23, 1007, 'integer', 'int'],
  [24, 1008, 'regproc', 'text'],
  [25, 1009, 'text', 'text'],
  [26, 1028, 'oid', 'int'],
  [27, 1010, 'tid', 'text'],
  [28, 1011, 'xid', 'text'],
  [29, 1012, 'cid', 'text'],
  [114, 199, 'json', 'json'],
  [142, 143, 'xml', 'text'],
  [600, 1017, 'point', 'text'],
  [601, 1018, 'lseg', 'text'],
  [602, 1019, 'path', 'text'],
  [603, 1020, 'box', 'text', ';'],
  [604, 1027, 'polygon', 'text'],
  [628, 629, 'line', 'text'],
  [650, 651, 'cidr', 'text'],
  [700, 1021, 'real', 'float'],
  [701, 1022, 'double precision', 'float'],
  [718, 719, 'circle', 'text'],
  [774, 775, 'macaddr8', 'text'],
  [790, 791, 'money', 'text'],
  [829, 1040, 'macaddr', 'text'],
  [869, 1041, 'inet', 'text'],
  [1033, 1034, 'aclitem', 'text'],
  [1042, 1014, 'character', 'text'],
  [1043, 1015, 'character varying', 'text'],
  [1082, 1182, 'date', 'date'],
  [1083, 1183, 'time without time zone', 'text'],
  [1114, 1115, 'timestamp without time zone', 'timestamp'],
  [1184, 1185, 'timestamp with time zone', 'timestamptz'],
  [1186, 1187, 'interval', 'text'],
  [1266, 1270, 'time with time zone', 'text'],
  [1560, 1561, 'bit', 'text'],
  [1562, 1563, 'bit varying', 'text'],
  [1700, 1231, 'numeric', 'text'],
  [1790, 2201, 'refcursor', 'text'],
  [2202, 2207, 'regprocedure', 'text'],
  [2203, 2208, 'regoper', 'text'],
  [2204, 2209, 'regoperator', 'text'],
  [2205, 2210, 'regclass', 'text'],
  [2206, 2211, 'regtype', 'text'],
  [2249, 2287, 'record', 'text'],
  [2275, 1263, 'cstring', 'text'],
  [2950, 2951, 'uuid', 'text'],
  [2970, 2949, 'txid_snapshot', 'text'],
  [3220, 3221, 'pg_lsn', 'text'],
  [3614, 3643, 'tsvector', 'text'],
  [3615, 3645, 'tsquery', 'text'],
  [3734, 3735, 'regconfig', 'text'],
  [3769, 3770, 'regdictionary', 'text'],
  [3802, 3807, 'jsonb', 'json'],
  [3904, 3905, 'int4range', 'text'],
  [3906, 3907, 'numrange', 'text'],
  [3908, 3909, 'tsrange', 'text'],
  [3910, 3911, 'tstzrange', 'text'],
  [3912, 3913, 'daterange', 'text'],
  [3926, 3927, 'int8range', 'text'],
  [4072, 4073, 'jsonpath', 'text'],
  [4089, 4090, 'regnamespace', 'text'],
  [4096, 4097, 'regrole', 'text'],
  [4191, 4192, 'regcollation', 'text'],
  [4451, 6150, 'int4multirange', 'text'],
  [4532, 6151, 'nummultirange', 'text'],
  [4533, 6152, 'tsmultirange', 'text'],
  [4534, 6153, 'tstzmultirange', 'text'],
  [4535, 6155, 'datemultirange', 'text'],
  [4536, 6157, 'int8multirange', 'text'],
  [5038, 5039, 'pg_snapshot', 'text'],
  [5069, 271, 'xid8', 'text'],
]

/** Built-in types without an array type that still show up in results. */
const OTHER_TYPES: readonly (readonly [number, string])[] = [
  [22, 'int2vector'],
  [30, 'oidvector'],
  [194, 'pg_node_tree'],
  [705, 'unknown'],
  [2278, 'void'],
]

function buildBuiltins(): ReadonlyMap<number, PgType> {
  const map = new Map<number, PgType>()
  for (const [oid, arrayOid, name, kind, delimiter = ','] of BASE_TYPES) {
    map.set(oid, { name, kind, array: false, delimiter: ',' })
    map.set(arrayOid, { name: `${name}[]`, kind, array: true, delimiter })
  }
  for (const [oid, name] of OTHER_TYPES) map.set(oid, { name, kind: 'text', array: false, delimiter: ',' })
  return map
}

export const BUILTIN_TYPES: ReadonlyMap<number, PgType> = buildBuiltins()

/**
 * Resolves OIDs the static table does not know. For an array it also returns the element's base
 * type (following domains, which RowDescription reports as their base type for plain columns but
 * not inside arrays) and the element's delimiter. Our own constant text; `$1` is `oid[]`.
 */
export const TYPE_LOOKUP_SQL = `WITH RECURSIVE
  req AS (
    SELECT t.oid, t.typelem, t.typcategory OPERATOR(pg_catalog.=) 'A' AND t.typelem OPERATOR(pg_catalog.<>) 0 AS is_array
    FROM pg_catalog.pg_type t
    WHERE t.oid OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.oid[])
  ),
  chain (start, cur, depth) AS (
    SELECT typelem, typelem, 0 FROM req WHERE is_array
    UNION ALL
    SELECT c.start, t.typbasetype, c.depth OPERATOR(pg_catalog.+) 1
    FROM chain c JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) c.cur
    WHERE t.typtype OPERATOR(pg_catalog.=) 'd' AND c.depth OPERATOR(pg_catalog.<) 32
  )
SELECT r.oid, pg_catalog.format_type(r.oid, NULL), r.is_array,
  (SELECT c.cur FROM chain c WHERE c.start OPERATOR(pg_catalog.=) r.typelem ORDER BY c.depth DESC LIMIT 1),
  (SELECT e.typdelim FROM pg_catalog.pg_type e WHERE e.oid OPERATOR(pg_catalog.=) r.typelem)
FROM req r`

const UNKNOWN_TYPE: PgType = { name: 'unknown', kind: 'text', array: false, delimiter: ',' }

/** Above this many cached OIDs the cache stops growing (a catalog with more types still works). */
const MAX_CACHED = 10_000

/** Per-driver cache of resolved type OIDs. OIDs of user types are stable while the type exists. */
export class TypeCache {
  readonly #resolved = new Map<number, PgType>()

  get(oid: number): PgType | undefined {
    return BUILTIN_TYPES.get(oid) ?? this.#resolved.get(oid)
  }

  /** The type to convert with now: known types, or `text` until the lookup answers. */
  getOrText(oid: number): PgType {
    return this.get(oid) ?? UNKNOWN_TYPE
  }

  unknown(oids: readonly number[]): number[] {
    return [...new Set(oids.filter((oid) => this.get(oid) === undefined))]
  }

  /** One TYPE_LOOKUP_SQL row, in text format: oid, name, is_array, element base oid, delimiter. */
  addLookupRow(fields: readonly (string | null)[]): void {
    const [oidText, name, isArray, elemText, delimiter] = fields
    if (oidText == null || name == null) return
    const elementKind = elemText == null ? 'text' : (BUILTIN_TYPES.get(Number(elemText))?.kind ?? 'text')
    const elementIsArray = elemText != null && BUILTIN_TYPES.get(Number(elemText))?.array === true
    const type: PgType =
      isArray === 't'
        ? { name, kind: elementIsArray ? 'text' : elementKind, array: true, delimiter: delimiter ?? ',' }
        : { name, kind: 'text', array: false, delimiter: ',' }
    if (this.#resolved.size < MAX_CACHED) this.#resolved.set(Number(oidText), type)
  }
}
