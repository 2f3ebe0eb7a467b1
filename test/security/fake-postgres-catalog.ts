/**
 * A stand-in for a PostgreSQL catalog, for tests that exercise the function policy without a
 * database. It answers like `SourceDriver.lookupFunctions/lookupOperators`: only rows in pg_catalog
 * or the search path (`public`), all overloads of each asked name.
 *
 * pg_catalog holds every name of the reviewed allowlist (as IMMUTABLE functions) and every name of
 * the denylist (as VOLATILE ones), plus a few real pg_catalog functions that are on neither list.
 * `public` holds a few user functions, one of each kind the UDF rule distinguishes, and two user
 * operators. Names used by the corpus's must-allow cases are never overloaded here, so the corpus
 * means the same thing against this catalog and against a real database.
 */
import type { FunctionInfo, OperatorInfo } from '../../src/exec/drivers/driver.js'
import { BUILTIN_FUNCTIONS } from '../../src/sql/rules/postgres-builtin-functions.js'
import { DENIED_FUNCTIONS } from '../../src/sql/rules/postgres-denied-functions.js'
import { ok, type Result } from '../../src/util/result.js'

/** Builtin operator names of PostgreSQL 15–18 (`SELECT DISTINCT oprname FROM pg_operator`). */
export const BUILTIN_OPERATOR_NAMES: readonly string[] = Object.freeze(
  (
    '!! !~ !~* !~~ !~~* # ## #- #> #>> % & && &< &<| &> * *< *<= *<> *= *> *>= + - -> ->> -|- / < <-> << <<= ' +
    '<<| <= <> <@ <^ = > >= >> >>= >^ ? ?# ?& ?- ?-| ?| ?|| @ @-@ @> @? @@ @@@ ^ ^@ | |&> |/ |>> || ||/ ~ ~* ' +
    '~<=~ ~<~ ~= ~>=~ ~>~ ~~ ~~*'
  ).split(' '),
)

export interface FakeCatalog {
  readonly functions: FunctionInfo[]
  readonly operators: OperatorInfo[]
  /** Names asked for, one entry per lookup call. */
  readonly functionLookups: string[][]
  readonly operatorLookups: string[][]
  readonly searchPath: readonly string[]
  lookupFunctions(names: readonly string[]): Promise<Result<readonly FunctionInfo[]>>
  lookupOperators(names: readonly string[]): Promise<Result<readonly OperatorInfo[]>>
}

export function fn(
  schema: string,
  name: string,
  volatility: FunctionInfo['volatility'],
  extra: Partial<Pick<FunctionInfo, 'argCount' | 'securityDefiner' | 'kind'>> = {},
): FunctionInfo {
  return { schema, name, argCount: extra.argCount ?? 1, volatility, securityDefiner: extra.securityDefiner ?? false, kind: extra.kind ?? 'f' }
}

export function createFakePostgresCatalog(searchPath: readonly string[] = ['public']): FakeCatalog {
  const functions: FunctionInfo[] = [
    ...BUILTIN_FUNCTIONS.map((entry) => fn('pg_catalog', entry.name, 'i')),
    ...DENIED_FUNCTIONS.map((entry) => fn('pg_catalog', entry.name, 'v')),
    // Real pg_catalog functions on neither list: refused because nobody reviewed them.
    fn('pg_catalog', 'pg_stat_get_activity', 's'),
    fn('pg_catalog', 'pg_ls_dir', 'v'),
    fn('pg_catalog', 'pg_ls_waldir', 'v'),
    fn('pg_catalog', 'pg_ls_logdir', 'v'),
    fn('pg_catalog', 'pg_stat_reset', 'v'),
    fn('pg_catalog', 'pg_stat_reset_shared', 'v'),
    fn('pg_catalog', 'pg_stat_reset_single_table_counters', 'v'),
    fn('pg_catalog', 'pg_lock_status', 'v'),
    fn('pg_catalog', 'texteq', 'i'),
    // User functions, one per case of the UDF rule.
    fn('public', 'safe_discount', 'i'),
    fn('public', 'customer_label', 's'),
    fn('public', 'audit_touch', 'v', { argCount: 0 }),
    fn('public', 'secdef_lookup', 's', { securityDefiner: true }),
    fn('public', 'do_work', 'v', { argCount: 2, kind: 'p' }),
    fn('public', 'dblink', 'v', { argCount: 2 }),
    // Outside the search path: a correct driver never returns it for the default search path.
    fn('canary', 'reset_items', 'v', { argCount: 0 }),
  ]
  const operators: OperatorInfo[] = [
    ...BUILTIN_OPERATOR_NAMES.map((name) => ({ schema: 'pg_catalog', name, function: fn('pg_catalog', 'texteq', 'i') })),
    { schema: 'public', name: '===', function: fn('public', 'safe_discount', 'i') },
    { schema: 'public', name: '!!!', function: fn('pg_catalog', 'pg_terminate_backend', 'v') },
    { schema: 'canary', name: '+', function: fn('canary', 'reset_items', 'v') },
  ]
  const visible = new Set(['pg_catalog', ...searchPath])
  const functionLookups: string[][] = []
  const operatorLookups: string[][] = []
  return {
    functions,
    operators,
    functionLookups,
    operatorLookups,
    searchPath,
    async lookupFunctions(names) {
      functionLookups.push([...names])
      const wanted = new Set(names)
      return ok(functions.filter((row) => wanted.has(row.name) && visible.has(row.schema)))
    },
    async lookupOperators(names) {
      operatorLookups.push([...names])
      const wanted = new Set(names)
      return ok(operators.filter((row) => wanted.has(row.name) && visible.has(row.schema)))
    },
  }
}
