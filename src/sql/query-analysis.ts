/**
 * What SQL analysis hands to the stages after it. Produced only by `sql/analyze-sql.ts` from the
 * real parser's tree; every later stage (function policy, execution, audit) reads this, never the
 * raw text.
 */

/** The statement classes a read-only source accepts. Anything else is refused during analysis. */
export const READ_STATEMENT_CLASSES = ['select', 'explain', 'show'] as const
export type StatementClass = (typeof READ_STATEMENT_CLASSES)[number]

/** A relation named in the statement (CTE names excluded). Names are as PostgreSQL folds them. */
export interface RelationRef {
  readonly schema: string | null
  readonly name: string
  /** Every place it is named: the parser's byte offset of the name, and whether `ONLY` was written. */
  readonly sites: readonly RelationSite[]
}

export interface RelationSite {
  /** Byte offset (UTF-8) of the relation name's first token in the statement text, from the parser. */
  readonly location: number
  /** `ONLY name`: inheritance children and partitions are not read. */
  readonly only: boolean
  /** `name AS a` or `name a`: the statement gave it an alias. */
  readonly aliased: boolean
}

/** A type named in a cast or a type literal (`'x'::regclass`, `CAST(x AS t)`, `regclass 'x'`). */
export interface TypeRef {
  readonly schema: string | null
  readonly name: string
}

/** A function call found anywhere in the tree (select list, FROM, WHERE, casts, defaults…). */
export interface FunctionRef {
  readonly schema: string | null
  /** Lower-case unless quoted; Unicode escapes already decoded by the parser. */
  readonly name: string
  readonly argCount: number
  /**
   * For each argument: its value when it is a string constant, otherwise null. Used for the
   * argument-sensitive rules (`current_setting('name')`, `set_config` is denied outright).
   */
  readonly constStringArgs: readonly (string | null)[]
}

/** A user-visible operator by name (`=`, `||`, or a qualified custom operator). */
export interface OperatorRef {
  readonly schema: string | null
  readonly name: string
}

export interface QueryAnalysis {
  readonly statementClass: StatementClass
  readonly relations: readonly RelationRef[]
  readonly functions: readonly FunctionRef[]
  /**
   * Names used in field-selection position (`(x).f`, `t.f`, `a.b.c`). PostgreSQL may resolve such a
   * name to a call `f(x)` (attribute notation, PostgreSQL docs §38.5.2), so the function policy checks
   * each one against the catalog as a possible one-argument call.
   */
  readonly attributeNames: readonly string[]
  readonly operators: readonly OperatorRef[]
  /** Types named anywhere in the statement (casts, type literals). */
  readonly typeNames: readonly TypeRef[]
  /** Settings read by `SHOW name`. */
  readonly shownSettings: readonly string[]
  /** The highest `$n` placeholder number used (0 when none). */
  readonly maxParamIndex: number
  /** libpg-query fingerprint of the statement. */
  readonly fingerprint: string
  /** The single statement's text, without a trailing semicolon or surrounding whitespace. */
  readonly statementText: string
}
