/**
 * What SQL analysis hands to the stages after it. Produced only by `sql/analyze-sql.ts` from the
 * real parser's tree; every later stage (function policy, execution, audit) reads this, never the
 * raw text.
 */

/** The statement classes a read-only source accepts. Anything else is refused during analysis. */
export const READ_STATEMENT_CLASSES = ['select', 'explain', 'show'] as const
export type StatementClass = (typeof READ_STATEMENT_CLASSES)[number]

/**
 * The write classes a policy can grant (`access: { write: [...] }`). Only the `execute` tool's
 * analysis (analyzeWriteSql) produces them; DDL, MERGE, COPY and utility statements are never a
 * write class. `INSERT … ON CONFLICT DO UPDATE` is an insert that needs the update class too.
 */
export const WRITE_CLASSES = ['insert', 'update', 'delete'] as const
export type WriteClass = (typeof WRITE_CLASSES)[number]

/** What a write statement writes: its classes and its one target relation. */
export interface WriteFacts {
  /** Every class the statement needs granted, in WRITE_CLASSES order (ON CONFLICT DO UPDATE: insert + update). */
  readonly classes: readonly WriteClass[]
  /** The relation written (`INSERT INTO t`, `UPDATE t`, `DELETE FROM t`); never a CTE. */
  readonly target: RelationRef
  /** The statement has a RETURNING clause. */
  readonly returning: boolean
}

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
  /** A read class; a write class only in analyses from analyzeWriteSql (with `write` set). */
  readonly statementClass: StatementClass | WriteClass
  /**
   * Relations the statement reads (FROM, USING, sub-selects, CTEs' bodies). A write's target is not
   * in this list unless the statement also names it elsewhere; it is in `write.target`.
   */
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
  /** The statement with literals replaced by `$n` placeholders (libpg-query normalize), for audit. */
  readonly normalizedSql: string
  /** The single statement's text, without a trailing semicolon or surrounding whitespace. */
  readonly statementText: string
  /** Present only for writes accepted by analyzeWriteSql; absent from every read analysis. */
  readonly write?: WriteFacts
}
