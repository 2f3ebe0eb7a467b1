/**
 * The allowlist of libpg-query node types a read may contain, and for each one the fields it may
 * carry. The walker (walk-postgres-tree.ts) refuses any node type not listed here and any field not
 * listed for its node, so a construct this table has not been reviewed for, including one a future
 * PostgreSQL adds, is refused rather than skipped (fail closed).
 *
 * Reviewed against the PostgreSQL 17/18 raw parse tree (libpg-query 18, `@pgsql/types`). Decisions
 * worth knowing:
 * - Only raw-parser nodes are listed. Post-analysis nodes (Var, Param, Aggref, FuncExpr, OpExpr,
 *   NullIfExpr, SubPlan, Query, TargetEntry, RangeTblEntry, …) never appear in a raw tree; one that
 *   did would mean the tree is not what we think it is, so they are refused too.
 * - Refused on purpose: IntoClause (SELECT … INTO creates a table), LockingClause (FOR UPDATE/SHARE
 *   takes row locks, and in a read-only transaction fails only after the lock is attempted),
 *   SetToDefault and MultiAssignRef (INSERT/UPDATE only), CurrentOfExpr (cursors), MergeSupportFunc
 *   (MERGE only), DefElem outside EXPLAIN options, RoleSpec, every `*Stmt` but SelectStmt, and
 *   anything in DDL (ColumnDef is allowed only with the fields a column definition list
 *   `AS t(a int)` can have).
 * - JSON (SQL/JSON constructors, JSON_TABLE, JSON_QUERY/VALUE/EXISTS, IS JSON) and XML
 *   (xmlelement, XMLTABLE, xmlserialize) syntax is allowed: it computes values; any function it
 *   calls is a FuncCall node, checked like any other.
 *
 * Field kinds:
 * - `'s'` a scalar (string, number or boolean: names, enums, flags, locations),
 * - `'n'` a wrapped node (`{ "FuncCall": {…} }`), `{}` (a NULL list cell), or an array of them,
 * - `'w'` a list of `String` nodes (a qualified name); checked but not walked,
 * - `'h'` handled by the walker's own code for that node type,
 * - a node type name: an unwrapped object of that type (`SelectStmt.larg`, `FuncCall.over`).
 */

export type FieldKind = 's' | 'n' | 'w' | 'h' | NodeTypeName

export type NodeTypeName = keyof typeof NODE_FIELDS_SOURCE | keyof typeof WRITE_NODE_FIELDS_SOURCE

const NODE_FIELDS_SOURCE = {
  // Values
  Integer: { ival: 's' },
  Float: { fval: 's' },
  Boolean: { boolval: 's' },
  String: { sval: 's' },
  BitString: { bsval: 's' },
  List: { items: 'n' },
  A_Const: {
    ival: 'Integer',
    fval: 'Float',
    boolval: 'Boolean',
    sval: 'String',
    bsval: 'BitString',
    isnull: 's',
    location: 's',
  },
  A_Star: {},

  // Expressions
  ColumnRef: { fields: 'h', location: 's' },
  ParamRef: { number: 's', location: 's' },
  A_Expr: {
    kind: 's',
    name: 'h',
    lexpr: 'n',
    rexpr: 'n',
    rexpr_list_start: 's',
    rexpr_list_end: 's',
    location: 's',
  },
  TypeCast: { arg: 'n', typeName: 'TypeName', location: 's' },
  CollateClause: { arg: 'n', collname: 'w', location: 's' },
  FuncCall: {
    funcname: 'h',
    args: 'n',
    agg_order: 'n',
    agg_filter: 'n',
    over: 'WindowDef',
    agg_within_group: 's',
    agg_star: 's',
    agg_distinct: 's',
    func_variadic: 's',
    funcformat: 's',
    location: 's',
  },
  NamedArgExpr: { arg: 'n', name: 's', argnumber: 's', location: 's' },
  A_Indices: { is_slice: 's', lidx: 'n', uidx: 'n' },
  A_Indirection: { arg: 'n', indirection: 'h' },
  A_ArrayExpr: { elements: 'n', list_start: 's', list_end: 's', location: 's' },
  BoolExpr: { boolop: 's', args: 'n', location: 's' },
  SubLink: { subLinkType: 's', testexpr: 'n', operName: 'h', subselect: 'n', location: 's' },
  CaseExpr: { arg: 'n', args: 'n', defresult: 'n', location: 's' },
  CaseWhen: { expr: 'n', result: 'n', location: 's' },
  RowExpr: { args: 'n', row_format: 's', colnames: 'n', location: 's' },
  CoalesceExpr: { args: 'n', location: 's' },
  MinMaxExpr: { op: 's', args: 'n', location: 's' },
  SQLValueFunction: { op: 's', typmod: 's', location: 's' },
  NullTest: { arg: 'n', nulltesttype: 's', argisrow: 's', location: 's' },
  BooleanTest: { arg: 'n', booltesttype: 's', location: 's' },
  GroupingFunc: { args: 'n', location: 's' },
  XmlExpr: {
    op: 's',
    name: 's',
    named_args: 'n',
    arg_names: 'n',
    args: 'n',
    xmloption: 's',
    indent: 's',
    location: 's',
  },
  XmlSerialize: { xmloption: 's', expr: 'n', typeName: 'TypeName', indent: 's', location: 's' },

  // SQL/JSON (PostgreSQL 16+ constructors, 17+ query functions and JSON_TABLE)
  JsonFormat: { format_type: 's', encoding: 's', location: 's' },
  JsonReturning: { format: 'JsonFormat', typid: 's', typmod: 's' },
  JsonOutput: { typeName: 'TypeName', returning: 'JsonReturning' },
  JsonValueExpr: { raw_expr: 'n', format: 'JsonFormat' },
  JsonArgument: { val: 'JsonValueExpr', name: 's' },
  JsonBehavior: { btype: 's', expr: 'n', coerce: 's', location: 's' },
  JsonFuncExpr: {
    op: 's',
    column_name: 's',
    context_item: 'JsonValueExpr',
    pathspec: 'n',
    passing: 'n',
    output: 'JsonOutput',
    on_empty: 'JsonBehavior',
    on_error: 'JsonBehavior',
    wrapper: 's',
    quotes: 's',
    location: 's',
  },
  JsonTablePathSpec: { string: 'n', name: 's', name_location: 's', location: 's' },
  JsonTable: {
    context_item: 'JsonValueExpr',
    pathspec: 'JsonTablePathSpec',
    passing: 'n',
    columns: 'n',
    on_error: 'JsonBehavior',
    alias: 'Alias',
    lateral: 's',
    location: 's',
  },
  JsonTableColumn: {
    coltype: 's',
    name: 's',
    typeName: 'TypeName',
    pathspec: 'JsonTablePathSpec',
    format: 'JsonFormat',
    wrapper: 's',
    quotes: 's',
    columns: 'n',
    on_empty: 'JsonBehavior',
    on_error: 'JsonBehavior',
    location: 's',
  },
  JsonKeyValue: { key: 'n', value: 'JsonValueExpr' },
  JsonParseExpr: { expr: 'JsonValueExpr', output: 'JsonOutput', unique_keys: 's', location: 's' },
  JsonScalarExpr: { expr: 'n', output: 'JsonOutput', location: 's' },
  JsonSerializeExpr: { expr: 'JsonValueExpr', output: 'JsonOutput', location: 's' },
  JsonObjectConstructor: { exprs: 'n', output: 'JsonOutput', absent_on_null: 's', unique: 's', location: 's' },
  JsonArrayConstructor: { exprs: 'n', output: 'JsonOutput', absent_on_null: 's', location: 's' },
  JsonArrayQueryConstructor: {
    query: 'n',
    output: 'JsonOutput',
    format: 'JsonFormat',
    absent_on_null: 's',
    location: 's',
  },
  JsonAggConstructor: { output: 'JsonOutput', agg_filter: 'n', agg_order: 'n', over: 'WindowDef', location: 's' },
  JsonObjectAgg: { constructor: 'JsonAggConstructor', arg: 'JsonKeyValue', absent_on_null: 's', unique: 's' },
  JsonArrayAgg: { constructor: 'JsonAggConstructor', arg: 'JsonValueExpr', absent_on_null: 's' },
  JsonIsPredicate: { expr: 'n', format: 'JsonFormat', item_type: 's', unique_keys: 's', location: 's' },

  // Clauses
  ResTarget: { name: 's', val: 'n', location: 's' },
  SortBy: { node: 'n', sortby_dir: 's', sortby_nulls: 's', useOp: 'h', location: 's' },
  WindowDef: {
    name: 's',
    refname: 's',
    partitionClause: 'n',
    orderClause: 'n',
    frameOptions: 's',
    startOffset: 'n',
    endOffset: 'n',
    location: 's',
  },
  GroupingSet: { kind: 's', content: 'n', location: 's' },
  TypeName: {
    names: 'w',
    typeOid: 's',
    setof: 's',
    pct_type: 's',
    typmods: 'n',
    typemod: 's',
    arrayBounds: 'n',
    location: 's',
  },
  Alias: { aliasname: 's', colnames: 'n' },
  // A column definition list entry, `FROM f() AS t(a int)`: name, type, collation. Nothing else.
  ColumnDef: { colname: 's', typeName: 'TypeName', collClause: 'CollateClause', is_local: 's', location: 's' },

  // FROM items
  RangeVar: {
    catalogname: 's',
    schemaname: 's',
    relname: 's',
    inh: 's',
    relpersistence: 's',
    alias: 'Alias',
    location: 's',
  },
  JoinExpr: {
    jointype: 's',
    isNatural: 's',
    larg: 'n',
    rarg: 'n',
    usingClause: 'n',
    join_using_alias: 'Alias',
    quals: 'n',
    alias: 'Alias',
  },
  RangeSubselect: { lateral: 's', subquery: 'n', alias: 'Alias' },
  RangeFunction: {
    lateral: 's',
    ordinality: 's',
    is_rowsfrom: 's',
    functions: 'n',
    alias: 'Alias',
    coldeflist: 'n',
  },
  RangeTableFunc: {
    lateral: 's',
    docexpr: 'n',
    rowexpr: 'n',
    namespaces: 'n',
    columns: 'n',
    alias: 'Alias',
    location: 's',
  },
  RangeTableFuncCol: {
    colname: 's',
    typeName: 'TypeName',
    for_ordinality: 's',
    is_not_null: 's',
    colexpr: 'n',
    coldefexpr: 'n',
    location: 's',
  },
  RangeTableSample: { relation: 'n', method: 'h', args: 'n', repeatable: 'n', location: 's' },

  // Queries
  SelectStmt: {
    distinctClause: 'n',
    intoClause: 'h',
    targetList: 'n',
    fromClause: 'n',
    whereClause: 'n',
    groupClause: 'n',
    groupDistinct: 's',
    havingClause: 'n',
    windowClause: 'n',
    valuesLists: 'n',
    sortClause: 'n',
    limitOffset: 'n',
    limitCount: 'n',
    limitOption: 's',
    lockingClause: 'h',
    withClause: 'h',
    op: 's',
    all: 's',
    larg: 'SelectStmt',
    rarg: 'SelectStmt',
  },
  WithClause: { ctes: 'h', recursive: 's', location: 's' },
  CommonTableExpr: {
    ctename: 's',
    aliascolnames: 'n',
    ctematerialized: 's',
    ctequery: 'n',
    search_clause: 'CTESearchClause',
    cycle_clause: 'CTECycleClause',
    location: 's',
  },
  CTESearchClause: { search_col_list: 'n', search_breadth_first: 's', search_seq_column: 's', location: 's' },
  CTECycleClause: {
    cycle_col_list: 'n',
    cycle_mark_column: 's',
    cycle_mark_value: 'n',
    cycle_mark_default: 'n',
    cycle_path_column: 's',
    location: 's',
  },
} as const satisfies Record<string, Record<string, string>>

function frozenNullProto<T extends object>(value: T): T {
  return Object.freeze(Object.assign(Object.create(null) as T, value))
}

/**
 * Node type → field name → kind, as null-prototype objects so that a field literally named
 * `constructor` or `__proto__` (JsonObjectAgg has a real `constructor` field) never resolves to an
 * Object.prototype member.
 */
export const NODE_FIELDS: Readonly<Record<string, Readonly<Record<string, FieldKind>> | undefined>> = frozenNullProto(
  Object.fromEntries(
    Object.entries(NODE_FIELDS_SOURCE).map(([type, fields]) => [
      type,
      frozenNullProto(fields as Record<string, FieldKind>),
    ]),
  ),
)

/**
 * The nodes a write (the `execute` tool, analyzeWriteSql) may contain besides every read node
 * above. Never consulted on the read path, so a read's allowlist is exactly NODE_FIELDS.
 *
 * - The statement roots (InsertStmt, UpdateStmt, DeleteStmt) are accepted only as the root: the
 *   walker handles them itself, and a nested one (a data-modifying CTE, `WITH d AS (DELETE …)
 *   INSERT …`) is refused. MergeStmt is not a write class: MERGE runs several actions chosen per
 *   row, and PostgreSQL 17's `MERGE … RETURNING` and `merge_action()` would need their own review;
 *   it is refused with ERR_SQL_NOT_DML.
 * - SetToDefault (`DEFAULT` in VALUES or SET), MultiAssignRef (`SET (a, b) = (…)`), the ON CONFLICT
 *   clause with its inference (index columns or expressions, with a collation; operator classes
 *   are refused), and PostgreSQL 18's `RETURNING WITH (OLD AS o, NEW AS n)`.
 * - Still refused: CurrentOfExpr (`WHERE CURRENT OF cursor`), `SET a[1] = …` and `SET c.f = …`
 *   (ResTarget.indirection), and everything the read table refuses.
 */
const WRITE_NODE_FIELDS_SOURCE = {
  InsertStmt: {
    relation: 'h',
    cols: 'n',
    selectStmt: 'n',
    onConflictClause: 'OnConflictClause',
    returningClause: 'ReturningClause',
    withClause: 'h',
    override: 's',
  },
  UpdateStmt: {
    relation: 'h',
    targetList: 'n',
    whereClause: 'n',
    fromClause: 'n',
    returningClause: 'ReturningClause',
    withClause: 'h',
  },
  DeleteStmt: {
    relation: 'h',
    usingClause: 'n',
    whereClause: 'n',
    returningClause: 'ReturningClause',
    withClause: 'h',
  },
  SetToDefault: { location: 's' },
  MultiAssignRef: { source: 'n', colno: 's', ncolumns: 's' },
  OnConflictClause: { action: 's', infer: 'InferClause', targetList: 'n', whereClause: 'n', location: 's' },
  InferClause: { indexElems: 'n', whereClause: 'n', conname: 's', location: 's' },
  IndexElem: { name: 's', expr: 'n', indexcolname: 's', collation: 'w', ordering: 's', nulls_ordering: 's' },
  ReturningClause: { options: 'n', exprs: 'n' },
  ReturningOption: { option: 's', value: 's', location: 's' },
} as const satisfies Record<string, Record<string, string>>

/** The statement types a write may be (its root), and nowhere else. */
export const WRITE_ROOT_TYPES: ReadonlySet<string> = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt'])

/** NODE_FIELDS plus the write-only nodes: the allowlist of the write path. */
export const WRITE_NODE_FIELDS: Readonly<Record<string, Readonly<Record<string, FieldKind>> | undefined>> = frozenNullProto(
  Object.fromEntries(
    [...Object.entries(NODE_FIELDS_SOURCE), ...Object.entries(WRITE_NODE_FIELDS_SOURCE)].map(([type, fields]) => [
      type,
      frozenNullProto(fields as Record<string, FieldKind>),
    ]),
  ),
)
