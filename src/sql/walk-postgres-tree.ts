/**
 * The allowlist walker over one libpg-query statement. Iterative (an explicit stack, never
 * recursion, so a deep tree cannot overflow it), and closed: a node type that is not in
 * postgres-node-fields.ts, or a field that is not listed for its node, is refused.
 *
 * Besides deciding, it collects what phase B needs (query-analysis.ts): every relation (CTE
 * references excluded, with PostgreSQL's scoping), every function call wherever it appears, every
 * name in field-selection position (attribute notation: `(x).f` and `t.f` may call `f(x)`,
 * PostgreSQL docs §8.16.5 and §38.5.2), every operator (`a === b`, `OPERATOR(s.===)`, `x = ANY(…)`,
 * `ORDER BY x USING <`, and the operators PostgreSQL looks up behind IN, BETWEEN, NULLIF, IS
 * DISTINCT FROM and simple CASE), and the highest `$n`.
 *
 * Names arrive already folded and decoded by PostgreSQL's scanner: `SeTvAl` is `setval`, and
 * `U&"s\0065tval"` is `setval` too, so no rule here ever compares raw SQL text.
 */
import type {
  FunctionRef,
  OperatorRef,
  QueryAnalysis,
  RelationRef,
  RelationSite,
  StatementClass,
  TypeRef,
  WriteClass,
} from './query-analysis.js'
import { NODE_FIELDS, WRITE_NODE_FIELDS, WRITE_ROOT_TYPES, type FieldKind } from './postgres-node-fields.js'
import { EXPLAIN_BOOLEAN_VALUES, explainOption } from './rules/postgres-explain-options.js'
import { isReadableSetting } from './rules/postgres-settings.js'
import { fail, ok, type Fail, type Result } from '../util/result.js'

/** What the walk finds; analyze-sql adds the statement text and the fingerprint. */
export type StatementFacts = Omit<QueryAnalysis, 'fingerprint' | 'normalizedSql' | 'statementText'>

/** PostgreSQL's wire protocol counts parameters in an Int16 (docs §55.7, Bind). */
export const MAX_PARAM_INDEX = 65_535

/** Only the builtin sampling methods: anything else is an extension's handler function. */
const TABLESAMPLE_METHODS: ReadonlySet<string> = new Set(['bernoulli', 'system'])

/** CTE names visible at a point in the tree; an inner scope's parent is the enclosing one. */
interface CteScope {
  readonly names: readonly string[]
  readonly parent: CteScope | null
}

type NodeObject = Record<string, unknown>

/** Which allowlist a walk uses, and how it names what it refuses. */
interface WalkMode {
  readonly fields: Readonly<Record<string, Readonly<Record<string, FieldKind>> | undefined>>
  readonly refuse: (type: string) => Fail
  readonly write: boolean
}

const READ_MODE: WalkMode = Object.freeze({ fields: NODE_FIELDS, refuse: refuseNodeType, write: false })
const WRITE_MODE: WalkMode = Object.freeze({ fields: WRITE_NODE_FIELDS, refuse: refuseInWrite, write: true })

/** The ON CONFLICT actions reviewed; a future one (`DO SELECT`?) is refused until reviewed. */
const ON_CONFLICT_ACTIONS: ReadonlySet<string> = new Set(['ONCONFLICT_NOTHING', 'ONCONFLICT_UPDATE'])

const EMPTY: readonly never[] = Object.freeze([])

/** Classifies and walks one statement node (`RawStmt.stmt`, still wrapped). */
export function walkPostgresStatement(stmt: unknown): Result<StatementFacts> {
  const top = unwrap(stmt)
  if (top === null) return malformed('statement')
  const [type, node] = top
  switch (type) {
    case 'SelectStmt':
      return walkSelect('select', node)
    case 'ExplainStmt':
      return walkExplain(node)
    case 'VariableShowStmt':
      return walkShow(node)
    default:
      return fail('ERR_SQL_NOT_READ_ONLY', { subject: type })
  }
}

/**
 * The write entry point (the `execute` tool only): exactly one INSERT, UPDATE or DELETE, walked with
 * the read allowlist plus the write-only nodes (postgres-node-fields.ts). Everything else, MERGE,
 * DDL, COPY, utility statements and plain reads included, is ERR_SQL_NOT_DML. The read entry point
 * above is unaffected: it never consults the write table.
 */
export function walkPostgresWriteStatement(stmt: unknown): Result<StatementFacts> {
  const top = unwrap(stmt)
  if (top === null) return malformed('statement')
  const [type, node] = top
  switch (type) {
    case 'InsertStmt':
      return walkTree('insert', type, node, WRITE_MODE)
    case 'UpdateStmt':
      return walkTree('update', type, node, WRITE_MODE)
    case 'DeleteStmt':
      return walkTree('delete', type, node, WRITE_MODE)
    default:
      return fail('ERR_SQL_NOT_DML', { subject: type })
  }
}

function walkShow(node: NodeObject): Result<StatementFacts> {
  for (const key of Object.keys(node)) if (key !== 'name') return forbidden(`VariableShowStmt.${key}`)
  const name = node['name']
  if (typeof name !== 'string' || name === '') return malformed('VariableShowStmt')
  // SHOW ALL prints every setting, the sensitive ones included.
  if (name.toLowerCase() === 'all' || !isReadableSetting(name)) {
    return fail('ERR_SQL_FORBIDDEN_SETTING', { subject: name.toLowerCase() })
  }
  return ok({
    statementClass: 'show',
    relations: EMPTY,
    functions: EMPTY,
    attributeNames: EMPTY,
    operators: EMPTY,
    typeNames: EMPTY,
    shownSettings: [name.toLowerCase()],
    maxParamIndex: 0,
  })
}

function walkExplain(node: NodeObject): Result<StatementFacts> {
  for (const key of Object.keys(node)) if (key !== 'query' && key !== 'options') return forbidden(`ExplainStmt.${key}`)
  const query = unwrap(node['query'])
  if (query === null) return malformed('ExplainStmt.query')
  // EXPLAIN of a write, EXECUTE, CREATE TABLE AS or DECLARE: not a read, whatever the options say.
  if (query[0] !== 'SelectStmt') return refuseNodeType(query[0])
  const options = node['options'] ?? EMPTY
  if (!Array.isArray(options)) return malformed('ExplainStmt.options')
  for (const item of options) {
    const option = unwrap(item)
    if (option === null || option[0] !== 'DefElem') return malformed('ExplainStmt.options')
    const refusal = checkExplainOption(option[1])
    if (refusal !== undefined) return refusal
  }
  return walkSelect('explain', query[1])
}

function checkExplainOption(option: NodeObject): Fail | undefined {
  for (const key of Object.keys(option)) {
    if (key !== 'defname' && key !== 'arg' && key !== 'defaction' && key !== 'location') {
      return forbidden(`DefElem.${key}`)
    }
  }
  const name = option['defname']
  if (typeof name !== 'string') return malformed('DefElem')
  // ANALYZE executes the statement. Refused in every spelling and with every value, `false` included.
  if (name.toLowerCase() === 'analyze' || name.toLowerCase() === 'analyse') {
    return fail('ERR_SQL_FORBIDDEN_CONSTRUCT', { subject: 'explain:analyze' })
  }
  const reviewed = explainOption(name)
  if (reviewed === undefined) return fail('ERR_SQL_FORBIDDEN_CONSTRUCT', { subject: `explain:${name}` })
  if (option['arg'] === undefined) return reviewed.values === null ? undefined : forbidden(`explain:${name}`)
  const value = explainOptionValue(option['arg'])
  const accepted = reviewed.values ?? EXPLAIN_BOOLEAN_VALUES
  return value !== null && accepted.includes(value) ? undefined : forbidden(`explain:${name}`)
}

/** `FORMAT json` arrives as String, `COSTS 0` as Integer (`{}` for 0), `VERBOSE true` as String. */
function explainOptionValue(arg: unknown): string | null {
  const wrapped = unwrap(arg)
  if (wrapped === null) return null
  const [type, node] = wrapped
  if (type === 'String' && typeof node['sval'] === 'string') return node['sval'].toLowerCase()
  if (type === 'Integer') return String(node['ival'] ?? 0)
  if (type === 'Boolean') return node['boolval'] === true ? 'true' : 'false'
  return null
}

/**
 * Walks a SelectStmt (plain SELECT, VALUES, TABLE t, set operations) and everything under it.
 * The stack holds (type, node, CTE scope) triples in three parallel arrays.
 */
function walkSelect(statementClass: StatementClass, root: NodeObject): Result<StatementFacts> {
  return walkTree(statementClass, 'SelectStmt', root, READ_MODE)
}

/**
 * The walk itself, from a root node of `rootType`. On the read path the root is a SelectStmt; on
 * the write path an InsertStmt, UpdateStmt or DeleteStmt, whose target relation is recorded apart
 * from the relations it reads.
 */
function walkTree(
  statementClass: StatementClass | WriteClass,
  rootType: string,
  root: NodeObject,
  mode: WalkMode,
): Result<StatementFacts> {
  const types: string[] = [rootType]
  const nodes: NodeObject[] = [root]
  const scopes: (CteScope | null)[] = [null]

  const relations: { schema: string | null; name: string; sites: RelationSite[] }[] = []
  const relationKeys = new Map<string, RelationSite[]>()
  const typeNames: TypeRef[] = []
  const typeKeys = new Set<string>()
  const functions: FunctionRef[] = []
  const attributeNames = new Set<string>()
  const operators: OperatorRef[] = []
  const operatorKeys = new Set<string>()
  let maxParamIndex = 0
  let target: RelationRef | null = null
  const writeClasses = new Set<WriteClass>()
  let returning = false

  const addOperator = (schema: string | null, name: string): void => {
    const key = schema === null ? name : `${schema}.${name}`
    if (operatorKeys.has(key)) return
    operatorKeys.add(key)
    operators.push({ schema, name })
  }

  /** Pushes a wrapped node, a `{}` NULL cell, or an array of either. */
  const pushValue = (value: unknown, scope: CteScope | null, where: string): Fail | undefined => {
    if (Array.isArray(value)) {
      for (const item of value) {
        const refusal = pushWrapped(item, scope, where)
        if (refusal !== undefined) return refusal
      }
      return undefined
    }
    return pushWrapped(value, scope, where)
  }

  const pushWrapped = (value: unknown, scope: CteScope | null, where: string): Fail | undefined => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return malformed(where)
    const keys = Object.keys(value)
    if (keys.length === 0) return undefined
    const type = keys[0]
    if (keys.length !== 1 || type === undefined) return malformed(where)
    const inner = (value as NodeObject)[type]
    if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) return malformed(where)
    // A write statement is accepted only as the root: nested, it is a data-modifying CTE.
    if (mode.fields[type] === undefined || WRITE_ROOT_TYPES.has(type)) return mode.refuse(type)
    types.push(type)
    nodes.push(inner as NodeObject)
    scopes.push(scope)
    return undefined
  }

  while (types.length > 0) {
    const type = types.pop() as string
    const node = nodes.pop() as NodeObject
    let scope = scopes.pop() ?? null
    const fields = mode.fields[type]
    if (fields === undefined) return mode.refuse(type)

    switch (type) {
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt': {
        if (!mode.write || node !== root) return mode.refuse(type)
        const written = readTarget(node['relation'])
        if (!written.ok) return written
        target = written.value.ref
        if (written.value.alias !== undefined) {
          types.push('Alias')
          nodes.push(written.value.alias)
          scopes.push(scope)
        }
        writeClasses.add(type === 'InsertStmt' ? 'insert' : type === 'UpdateStmt' ? 'update' : 'delete')
        const conflict = node['onConflictClause']
        if (conflict !== undefined) {
          if (typeof conflict !== 'object' || conflict === null) return malformed('InsertStmt.onConflictClause')
          // ON CONFLICT DO UPDATE updates existing rows: it needs the update class too.
          if ((conflict as NodeObject)['action'] === 'ONCONFLICT_UPDATE') writeClasses.add('update')
        }
        returning = node['returningClause'] !== undefined
        const withClause = node['withClause']
        if (withClause !== undefined) {
          const result = pushWithClause(withClause, scope)
          if (!result.ok) return result
          scope = result.value
        }
        break
      }
      case 'OnConflictClause': {
        const action = node['action']
        if (typeof action !== 'string' || !ON_CONFLICT_ACTIONS.has(action)) return forbidden(`on_conflict:${String(action)}`)
        break
      }
      case 'SelectStmt': {
        // SELECT … INTO creates a table (docs: SELECT INTO); it is CREATE TABLE AS in disguise.
        if (node['intoClause'] !== undefined) {
          return fail(mode.write ? 'ERR_SQL_NOT_DML' : 'ERR_SQL_NOT_READ_ONLY', { subject: 'IntoClause' })
        }
        // FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE lock rows (and block writers).
        const locking = node['lockingClause']
        if (locking !== undefined && (!Array.isArray(locking) || locking.length > 0)) {
          return fail('ERR_SQL_FORBIDDEN_CONSTRUCT', { subject: 'locking_clause' })
        }
        const withClause = node['withClause']
        if (withClause !== undefined) {
          const result = pushWithClause(withClause, scope)
          if (!result.ok) return result
          scope = result.value
        }
        break
      }
      case 'RangeVar': {
        const schema = node['schemaname']
        const name = node['relname']
        if (typeof name !== 'string' || (schema !== undefined && typeof schema !== 'string')) {
          return malformed('RangeVar')
        }
        // db.schema.table: PostgreSQL only accepts the current database; we accept none.
        if (node['catalogname'] !== undefined) return forbidden('catalog_qualified_name')
        // An unqualified name that matches a CTE in scope is that CTE; a qualified one never is.
        if (schema === undefined && inScope(scope, name)) break
        const location = node['location']
        if (typeof location !== 'number' || !Number.isInteger(location) || location < 0) return malformed('RangeVar.location')
        // libpg-query leaves out false booleans: no `inh` means `ONLY name`.
        const site: RelationSite = { location, only: node['inh'] !== true, aliased: node['alias'] !== undefined }
        const key = `${schema ?? ''}\u0000${name}`
        const sites = relationKeys.get(key)
        if (sites === undefined) {
          const first = [site]
          relationKeys.set(key, first)
          relations.push({ schema: schema ?? null, name, sites: first })
        } else {
          sites.push(site)
        }
        break
      }
      case 'TypeName': {
        const parts = readNames(node['names'])
        if (parts === null || parts.length === 0) return malformed('TypeName.names')
        if (parts.length > 2) return forbidden('catalog_qualified_name')
        const schema = parts.length === 2 ? (parts[0] ?? null) : null
        const typeName = parts[parts.length - 1] ?? ''
        const key = `${schema ?? ''}\u0000${typeName}`
        if (!typeKeys.has(key)) {
          typeKeys.add(key)
          typeNames.push({ schema, name: typeName })
        }
        break
      }
      case 'FuncCall': {
        const parts = readNames(node['funcname'])
        if (parts === null || parts.length === 0) return malformed('FuncCall.funcname')
        if (parts.length > 2) return forbidden('catalog_qualified_name')
        const args = node['args'] ?? EMPTY
        if (!Array.isArray(args)) return malformed('FuncCall.args')
        functions.push({
          schema: parts.length === 2 ? (parts[0] ?? null) : null,
          name: parts[parts.length - 1] ?? '',
          argCount: args.length,
          constStringArgs: args.map(constString),
        })
        break
      }
      case 'ColumnRef': {
        const columnFields = node['fields']
        if (!Array.isArray(columnFields) || columnFields.length === 0) return malformed('ColumnRef.fields')
        for (let index = 0; index < columnFields.length; index += 1) {
          const field = unwrap(columnFields[index])
          if (field === null) return malformed('ColumnRef.fields')
          if (field[0] === 'A_Star') continue
          const name = field[0] === 'String' ? field[1]['sval'] : undefined
          if (typeof name !== 'string') return malformed('ColumnRef.fields')
          // `t.f` may be the call f(t) when t has no column f.
          if (index > 0) attributeNames.add(name)
        }
        break
      }
      case 'A_Indirection': {
        const indirection = node['indirection']
        if (!Array.isArray(indirection)) return malformed('A_Indirection.indirection')
        for (const item of indirection) {
          const step = unwrap(item)
          if (step === null) return malformed('A_Indirection.indirection')
          if (step[0] === 'String') {
            const name = step[1]['sval']
            if (typeof name !== 'string') return malformed('A_Indirection.indirection')
            // `(x).f` may be the call f(x): `(amount).pg_sleep` is pg_sleep(amount).
            attributeNames.add(name)
          } else if (step[0] === 'A_Indices') {
            const refusal = pushWrapped(item, scope, 'A_Indirection.indirection')
            if (refusal !== undefined) return refusal
          } else if (step[0] !== 'A_Star') {
            return refuseNodeType(step[0])
          }
        }
        break
      }
      case 'A_Expr': {
        const refusal = collectExprOperators(node, addOperator)
        if (refusal !== undefined) return refusal
        break
      }
      case 'SubLink': {
        const operName = node['operName']
        if (operName !== undefined) {
          const operator = readOperator(operName)
          if (operator === null) return malformed('SubLink.operName')
          addOperator(operator.schema, operator.name)
        } else if (node['subLinkType'] === 'ANY_SUBLINK') {
          // `x IN (SELECT …)` is `x = ANY (SELECT …)`.
          addOperator(null, '=')
        }
        break
      }
      case 'SortBy': {
        const useOp = node['useOp']
        if (useOp !== undefined) {
          const operator = readOperator(useOp)
          if (operator === null) return malformed('SortBy.useOp')
          addOperator(operator.schema, operator.name)
        }
        break
      }
      case 'CaseExpr':
        // `CASE x WHEN v …` compares with the `=` operator PostgreSQL looks up for x's type.
        if (node['arg'] !== undefined) addOperator(null, '=')
        break
      case 'ParamRef': {
        const number = node['number'] ?? 0
        if (typeof number !== 'number' || !Number.isInteger(number) || number < 1 || number > MAX_PARAM_INDEX) {
          return forbidden('param_index')
        }
        if (number > maxParamIndex) maxParamIndex = number
        break
      }
      case 'RangeTableSample': {
        const method = readNames(node['method'])
        if (method === null || method.length === 0 || method.length > 2) return malformed('RangeTableSample.method')
        const name = (method[method.length - 1] ?? '').toLowerCase()
        const qualifiedElsewhere = method.length === 2 && method[0] !== 'pg_catalog'
        if (qualifiedElsewhere || !TABLESAMPLE_METHODS.has(name)) return forbidden(`tablesample:${name}`)
        break
      }
      default:
        break
    }

    for (const key of Object.keys(node)) {
      const kind: FieldKind | undefined = fields[key]
      if (kind === undefined) return forbidden(`${type}.${key}`)
      if (kind === 'h') continue
      const value = node[key]
      if (kind === 's') {
        const valueType = typeof value
        if (valueType !== 'string' && valueType !== 'number' && valueType !== 'boolean') return malformed(`${type}.${key}`)
      } else if (kind === 'n') {
        const refusal = pushValue(value, scope, `${type}.${key}`)
        if (refusal !== undefined) return refusal
      } else if (kind === 'w') {
        if (readNames(value) === null) return malformed(`${type}.${key}`)
      } else {
        // An unwrapped node of a known type (SelectStmt.larg, FuncCall.over, TypeCast.typeName…).
        if (typeof value !== 'object' || value === null || Array.isArray(value)) return malformed(`${type}.${key}`)
        types.push(kind)
        nodes.push(value as NodeObject)
        scopes.push(scope)
      }
    }
  }

  const facts: StatementFacts = {
    statementClass,
    relations,
    functions,
    attributeNames: [...attributeNames],
    operators,
    typeNames,
    shownSettings: EMPTY,
    maxParamIndex,
  }
  if (!mode.write) return ok(facts)
  if (target === null) return malformed('write target')
  const classes = (['insert', 'update', 'delete'] as const).filter((c) => writeClasses.has(c))
  return ok({ ...facts, write: { classes, target, returning } })

  /**
   * Pushes the CTEs of a WITH clause, each with the scope PostgreSQL gives it (docs §7.8): in a
   * plain WITH, a CTE sees only the CTEs before it (`WITH x AS (SELECT * FROM x)` reads the table
   * x); in WITH RECURSIVE, every CTE of the list is visible to every other and to itself. Returns
   * the scope of the statement body, which sees all of them.
   */
  function pushWithClause(withClause: unknown, outer: CteScope | null): Result<CteScope | null> {
    if (typeof withClause !== 'object' || withClause === null || Array.isArray(withClause)) {
      return malformed('SelectStmt.withClause')
    }
    const clause = withClause as NodeObject
    for (const key of Object.keys(clause)) {
      const kind = NODE_FIELDS['WithClause']?.[key]
      if (kind === undefined) return forbidden(`WithClause.${key}`)
      if (kind === 's' && typeof clause[key] !== 'boolean' && typeof clause[key] !== 'number') {
        return malformed(`WithClause.${key}`)
      }
    }
    const ctes = clause['ctes']
    if (!Array.isArray(ctes)) return malformed('WithClause.ctes')
    const names: string[] = []
    for (const item of ctes) {
      const cte = unwrap(item)
      if (cte === null || cte[0] !== 'CommonTableExpr') return malformed('WithClause.ctes')
      const name = cte[1]['ctename']
      if (typeof name !== 'string') return malformed('CommonTableExpr.ctename')
      names.push(name)
    }
    const recursive = clause['recursive'] === true
    const body: CteScope = { names, parent: outer }
    for (let index = 0; index < ctes.length; index += 1) {
      const cteScope = recursive ? body : index === 0 ? outer : { names: names.slice(0, index), parent: outer }
      const refusal = pushWrapped(ctes[index], cteScope, 'WithClause.ctes')
      if (refusal !== undefined) return refusal
    }
    return ok(body)
  }
}

/**
 * The target of a write: a RangeVar with the fields a target may have. It is never a CTE
 * (PostgreSQL resolves a write's target in the catalog only), so no scope applies.
 */
function readTarget(value: unknown): Result<{ readonly ref: RelationRef; readonly alias: NodeObject | undefined }> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return malformed('write.relation')
  const node = value as NodeObject
  const allowed = NODE_FIELDS['RangeVar']
  for (const key of Object.keys(node)) if (allowed?.[key] === undefined) return forbidden(`RangeVar.${key}`)
  const schema = node['schemaname']
  const name = node['relname']
  if (typeof name !== 'string' || (schema !== undefined && typeof schema !== 'string')) return malformed('RangeVar')
  if (node['catalogname'] !== undefined) return forbidden('catalog_qualified_name')
  const location = node['location']
  if (typeof location !== 'number' || !Number.isInteger(location) || location < 0) return malformed('RangeVar.location')
  const alias = node['alias']
  if (alias !== undefined && (typeof alias !== 'object' || alias === null || Array.isArray(alias))) return malformed('RangeVar.alias')
  const site: RelationSite = { location, only: node['inh'] !== true, aliased: alias !== undefined }
  return ok({ ref: { schema: schema ?? null, name, sites: [site] }, alias: alias as NodeObject | undefined })
}

/** Operators of an A_Expr, including the ones hidden behind BETWEEN. */
function collectExprOperators(
  node: NodeObject,
  addOperator: (schema: string | null, name: string) => void,
): Fail | undefined {
  switch (node['kind']) {
    case 'AEXPR_OP':
    case 'AEXPR_OP_ANY':
    case 'AEXPR_OP_ALL':
    case 'AEXPR_DISTINCT':
    case 'AEXPR_NOT_DISTINCT':
    case 'AEXPR_NULLIF':
    case 'AEXPR_IN':
    case 'AEXPR_LIKE':
    case 'AEXPR_ILIKE':
    case 'AEXPR_SIMILAR': {
      const operator = readOperator(node['name'])
      if (operator === null) return malformed('A_Expr.name')
      addOperator(operator.schema, operator.name)
      return undefined
    }
    // `a BETWEEN x AND y` is `a >= x AND a <= y`; NOT BETWEEN is `a < x OR a > y` (gram.y).
    case 'AEXPR_BETWEEN':
    case 'AEXPR_BETWEEN_SYM':
      addOperator(null, '>=')
      addOperator(null, '<=')
      return undefined
    case 'AEXPR_NOT_BETWEEN':
    case 'AEXPR_NOT_BETWEEN_SYM':
      addOperator(null, '<')
      addOperator(null, '>')
      return undefined
    default:
      return forbidden(`A_Expr.${String(node['kind'])}`)
  }
}

function readOperator(value: unknown): OperatorRef | null {
  const parts = readNames(value)
  if (parts === null) return null
  if (parts.length === 1) return { schema: null, name: parts[0] ?? '' }
  if (parts.length === 2) return { schema: parts[0] ?? null, name: parts[1] ?? '' }
  return null
}

/** A list of `{ String: { sval } }` as plain strings, or null when it is anything else. */
function readNames(value: unknown): string[] | null {
  if (!Array.isArray(value)) return null
  const names: string[] = []
  for (const item of value) {
    const wrapped = unwrap(item)
    if (wrapped === null || wrapped[0] !== 'String') return null
    const name = wrapped[1]['sval']
    if (typeof name !== 'string') return null
    names.push(name)
  }
  return names
}

/** The value of a string-constant argument (`'TimeZone'`), or null for anything else. */
function constString(arg: unknown): string | null {
  const wrapped = unwrap(arg)
  if (wrapped === null || wrapped[0] !== 'A_Const') return null
  const sval = wrapped[1]['sval']
  if (typeof sval !== 'object' || sval === null) return null
  const text = (sval as NodeObject)['sval']
  return typeof text === 'string' ? text : ''
}

function unwrap(value: unknown): [string, NodeObject] | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null
  const keys = Object.keys(value)
  const type = keys[0]
  if (keys.length !== 1 || type === undefined) return null
  const inner = (value as NodeObject)[type]
  if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) return null
  return [type, inner as NodeObject]
}

function inScope(scope: CteScope | null, name: string): boolean {
  for (let current = scope; current !== null; current = current.parent) {
    if (current.names.includes(name)) return true
  }
  return false
}

/**
 * A node type outside the allowlist. Statements are refused as "not read-only" (a data-modifying
 * CTE, `EXPLAIN DELETE`), the rest as a forbidden construct named by its node type.
 */
function refuseNodeType(type: string): Fail {
  if (type.endsWith('Stmt') || type === 'IntoClause') return fail('ERR_SQL_NOT_READ_ONLY', { subject: type })
  if (type === 'LockingClause') return fail('ERR_SQL_FORBIDDEN_CONSTRUCT', { subject: 'locking_clause' })
  return fail('ERR_SQL_FORBIDDEN_CONSTRUCT', { subject: type })
}

/**
 * A node type outside the write allowlist. A nested write (in a CTE or a sub-select) is a
 * data-modifying CTE; other statements and INTO are not DML; the rest as on the read path.
 */
function refuseInWrite(type: string): Fail {
  if (WRITE_ROOT_TYPES.has(type) || type === 'MergeStmt') return forbidden('data_modifying_cte')
  if (type.endsWith('Stmt') || type === 'IntoClause') return fail('ERR_SQL_NOT_DML', { subject: type })
  return refuseNodeType(type)
}

function forbidden(subject: string): Fail {
  return fail('ERR_SQL_FORBIDDEN_CONSTRUCT', { subject })
}

/** A tree that does not have the shape libpg-query documents: refuse, never guess. */
function malformed(where: string): Fail {
  return fail('ERR_SQL_FORBIDDEN_CONSTRUCT', { subject: 'malformed_tree', cause: new Error(`malformed ${where}`) })
}
