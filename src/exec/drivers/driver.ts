/**
 * The small structural interfaces the core sees. Nothing outside `exec/drivers/<db>/` imports a
 * database driver (Kysely's dialect pattern); the pipeline talks to a `SourceDriver`.
 */
import type { Result } from '../../util/result.js'

export type SqlParam = string | number | boolean | null
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

/**
 * Who the call runs as inside the database (transaction-local, DESIGN §2 step 9). `dbRole` comes
 * from the policy's allowlist, never from input; null runs as the connected role.
 */
export interface SessionIdentity {
  readonly dbRole: string | null
  /** Exposed to SQL and row-level security as `current_setting('sqlwarden.principal')`. */
  readonly principal: string
  /** Exposed as `current_setting('sqlwarden.claim.<name>')`; names match CLAIM_NAME_PATTERN. */
  readonly claims?: Readonly<Record<string, string>>
}

/** Claim names become parts of a setting name: lower-case identifiers only. */
export const CLAIM_NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/

/**
 * Per-call limits, already reduced to the strictest of config, policy and the call's own
 * `max_rows`, and the identity the call runs as.
 */
export interface CallLimits {
  readonly maxRows: number
  readonly maxBytes: number
  readonly statementTimeoutMs: number
  readonly identity?: SessionIdentity
}

export interface ReadRequest {
  /** One statement, already accepted by SQL analysis (or trusted catalog SQL of sqlwarden's own). */
  readonly sql: string
  readonly params: readonly SqlParam[]
  readonly limits: CallLimits
  /** Aborts the call; the driver cancels the statement on the server. */
  readonly signal?: AbortSignal
}

export interface ColumnInfo {
  readonly name: string
  /** PostgreSQL type name as `format_type` prints it (`integer`, `timestamp with time zone`, …). */
  readonly type: string
}

export interface ReadResult {
  readonly columns: readonly ColumnInfo[]
  /** Rows as arrays in column order, values already converted to their JSON meaning. */
  readonly rows: readonly (readonly JsonValue[])[]
  readonly rowCount: number
  readonly truncated: boolean
  /** Which cap stopped the read, when `truncated`. */
  readonly truncatedBy: 'rows' | 'bytes' | null
  /** Approximate encoded size of the returned rows, in bytes. */
  readonly bytes: number
}

/** One write (the `execute` tool), accepted by write analysis, phase B and the user's confirmation. */
export interface WriteRequest {
  /** One INSERT, UPDATE or DELETE, already accepted by analyzeWriteSql (never raw input). */
  readonly sql: string
  readonly params: readonly SqlParam[]
  /** The statement class analysis found: the command tag must match it, or nothing is committed. */
  readonly statementClass: 'insert' | 'update' | 'delete'
  readonly limits: CallLimits
  readonly signal?: AbortSignal
}

export interface WriteResult {
  /** Rows inserted, updated or deleted, from the command tag. */
  readonly rowCount: number
  /** RETURNING rows under the call's row and byte caps; null without RETURNING. */
  readonly returning: ReadResult | null
}

/** One row of `pg_proc` that a function name may resolve to. */
export interface FunctionInfo {
  readonly schema: string
  readonly name: string
  readonly argCount: number
  /** `i` immutable, `s` stable, `v` volatile. */
  readonly volatility: 'i' | 's' | 'v'
  readonly securityDefiner: boolean
  /** `f` function, `p` procedure, `a` aggregate, `w` window. */
  readonly kind: 'f' | 'p' | 'a' | 'w'
}

/** One row of `pg_operator` an operator name may resolve to, with the function behind it. */
export interface OperatorInfo {
  readonly schema: string
  readonly name: string
  readonly function: FunctionInfo
}

/**
 * One relation a statement names, as the catalog resolves it under the source's fixed search path,
 * with what reading it reads besides itself (phase B of the policy, src/policy/relation-policy.ts).
 */
export interface RelationInfo {
  readonly schema: string
  readonly name: string
  /** pg_class.relkind: `r` table, `p` partitioned, `v` view, `m` materialized view, `f` foreign, `S` sequence… */
  readonly kind: string
  /** Live columns in attnum order. */
  readonly columns: readonly string[]
  /**
   * Views and materialized views: every relation their definition reads, transitively, with the
   * column read (null: the whole row, or the relation as such).
   */
  readonly reads: readonly { readonly schema: string; readonly name: string; readonly column: string | null }[]
  /** Views and materialized views: every function their definition calls, transitively. */
  readonly calls: readonly { readonly schema: string; readonly name: string }[]
  /** Inheritance children and partitions, transitively, with their live columns. */
  readonly descendants: readonly { readonly schema: string; readonly name: string; readonly columns: readonly string[] }[]
}

/** A type a name resolves to, and the relation whose row type it is (or whose row type it is an array of). */
export interface TypeInfo {
  readonly schema: string
  readonly name: string
  readonly relation: { readonly schema: string; readonly name: string } | null
}

/** A relation name as written (schema null when unqualified). */
export interface RelationName {
  readonly schema: string | null
  readonly name: string
}

export interface RoleReport {
  readonly role: string
  readonly superuser: boolean
  readonly bypassRls: boolean
  readonly createRole: boolean
  readonly createDb: boolean
  readonly replication: boolean
  /** Roles this role is a member of (directly or indirectly). */
  readonly memberOf: readonly string[]
  /** Privileges that allow writes: `INSERT ON public.orders`, `CREATE ON SCHEMA public`, … */
  readonly writePrivileges: readonly string[]
  readonly serverVersion: string
}

export interface SchemaEntry {
  readonly name: string
  readonly owner: string
  readonly comment: string | null
}

export interface TableEntry {
  readonly schema: string
  readonly name: string
  readonly kind: 'table' | 'view' | 'materialized_view' | 'foreign_table' | 'partitioned_table'
  readonly estimatedRows: number | null
  readonly comment: string | null
}

export interface TableDescription {
  readonly schema: string
  readonly name: string
  readonly kind: TableEntry['kind']
  readonly comment: string | null
  readonly columns: readonly {
    readonly name: string
    readonly type: string
    readonly nullable: boolean
    readonly default: string | null
    readonly comment: string | null
  }[]
  readonly primaryKey: readonly string[]
  readonly foreignKeys: readonly {
    readonly name: string
    readonly columns: readonly string[]
    readonly referencedSchema: string
    readonly referencedTable: string
    readonly referencedColumns: readonly string[]
  }[]
  readonly indexes: readonly {
    readonly name: string
    readonly unique: boolean
    readonly primary: boolean
    readonly definition: string
  }[]
}

export interface SourceDriver {
  readonly dialect: 'postgres'
  /** Runs one read inside `BEGIN READ ONLY` with server-side timeouts, then always rolls back. */
  read(request: ReadRequest): Promise<Result<ReadResult>>
  /**
   * Runs one write inside `BEGIN READ WRITE` with the same transaction-local limits, timeouts and
   * identity as a read, then COMMIT (ROLLBACK on any error or an unexpected command tag). A source
   * that never writes (the embedded demo) answers ERR_WRITE_SOURCE_READ_ONLY.
   */
  write(request: WriteRequest): Promise<Result<WriteResult>>
  /** `EXPLAIN (FORMAT JSON)` of one read statement, plan only, never ANALYZE. */
  explain(request: ReadRequest): Promise<Result<ReadResult>>
  listSchemas(limits: CallLimits): Promise<Result<readonly SchemaEntry[]>>
  listTables(schema: string | null, limits: CallLimits): Promise<Result<readonly TableEntry[]>>
  /** `ok(null)` when no such table is visible to the connected role. */
  describeTable(schema: string | null, table: string, limits: CallLimits): Promise<Result<TableDescription | null>>
  /** Every function with one of these names in `pg_catalog` or the fixed search path. */
  lookupFunctions(names: readonly string[]): Promise<Result<readonly FunctionInfo[]>>
  lookupOperators(names: readonly string[]): Promise<Result<readonly OperatorInfo[]>>
  /**
   * Resolves each name as the engine would under the fixed search path (pg_catalog first unless
   * the path places it). The answer has one entry per name, in order: null when nothing resolves.
   */
  lookupRelations(names: readonly RelationName[]): Promise<Result<readonly (RelationInfo | null)[]>>
  /** Resolves type names the same way (one entry per name, null when nothing resolves). */
  lookupTypes(names: readonly RelationName[]): Promise<Result<readonly (TypeInfo | null)[]>>
  inspectRole(): Promise<Result<RoleReport>>
  close(): Promise<void>
}
