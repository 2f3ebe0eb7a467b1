/**
 * The only module that imports `libpg-query` (PostgreSQL's own parser compiled to WASM, so the
 * tree we check is the tree the server builds; a hand-written tokenizer is exactly what stacked-
 * statement and comment tricks defeat). Everything here returns a `Result` and never throws: a
 * parser message echoes the SQL text, so it is kept as `cause` for stderr and audit, never as a
 * client-visible field.
 *
 * Where this parser and the server can read the same text differently (keep these in mind when
 * upgrading libpg-query or supporting a new server version):
 * - libpg-query always lexes with `standard_conforming_strings = on` (the default since 9.1). With
 *   it off, `'a\'` does not end a string and the two would disagree about where strings, and so
 *   statements and calls, end. The driver must keep the setting on for every transaction.
 * - libpg-query keeps comments in the grammar's one-token lookahead, so `NULLS /* c *\/ LAST`,
 *   `NOT /* c *\/ IN`, `WITH /* c *\/ ORDINALITY`, `FORMAT /* c *\/ JSON` and
 *   `U&"…" /* c *\/ UESCAPE '!'` are syntax errors here although PostgreSQL accepts them. That
 *   refuses valid SQL; it never accepts a different tree.
 * - The grammar is PostgreSQL 18's. Syntax an older server lacks parses here and fails there.
 * - NUL and lone surrogates: see unsafeCharacter.
 */
import { fingerprintSync, loadModule, normalizeSync, parseSync, scanSync } from 'libpg-query'
import { fail, ok, type Result } from '../../util/result.js'

/** One statement as the parser reports it. Offsets are in UTF-8 bytes, as in PostgreSQL. */
export interface RawStatement {
  /** The statement node, wrapped as `{ "SelectStmt": { … } }`. Untrusted shape: walk, don't cast. */
  readonly stmt: unknown
  /** Byte offset of the statement; absent means 0. */
  readonly stmt_location?: number
  /** Byte length of the statement; absent or 0 means "to the end of the text". */
  readonly stmt_len?: number
}

export interface ParseTree {
  readonly version: number
  readonly stmts: readonly RawStatement[]
}

let loaded = false

/** Loads the WASM module. Call once at startup; parsing before it resolves fails closed. */
export async function loadPostgresParser(): Promise<void> {
  if (loaded) return
  await loadModule()
  loaded = true
}

export function isPostgresParserLoaded(): boolean {
  return loaded
}

/**
 * Parses `text` into libpg-query's JSON tree. Failures:
 * - `ERR_SQL_PARSE`: a syntax error, the empty string (which libpg-query refuses to parse), or a
 *   NUL or lone surrogate (see unsafeCharacter).
 * - `ERR_SQL_TOO_DEEP`: the parser ran out of stack (`RangeError` from the WASM stack, PostgreSQL's
 *   `stack depth limit exceeded`, or bison's `memory exhausted` on very deep nesting). These are
 *   nesting problems, not syntax errors, and the client can only fix them by nesting less.
 * - `ERR_INTERNAL`: the module is not loaded or returned something that is not a parse tree.
 */
export function parsePostgres(text: string): Result<ParseTree> {
  if (!loaded) return fail('ERR_INTERNAL', { cause: new Error('PostgreSQL parser is not loaded') })
  const unsafe = unsafeCharacter(text)
  if (unsafe !== null) return fail('ERR_SQL_PARSE', { cause: new Error(unsafe) })
  let raw: unknown
  try {
    raw = parseSync(text)
  } catch (error) {
    return fail(isDepthFailure(error) ? 'ERR_SQL_TOO_DEEP' : 'ERR_SQL_PARSE', { cause: error })
  }
  if (typeof raw !== 'object' || raw === null) {
    return fail('ERR_INTERNAL', { cause: new Error('parser returned a non-object') })
  }
  const result = raw as { version?: unknown; stmts?: unknown }
  const stmts = result.stmts ?? []
  if (!Array.isArray(stmts)) return fail('ERR_INTERNAL', { cause: new Error('parser returned no statement list') })
  return ok({ version: typeof result.version === 'number' ? result.version : 0, stmts: stmts as RawStatement[] })
}

/**
 * libpg-query's fingerprint: equal for queries that differ only in constants, whitespace and
 * comments. Used for audit grouping and metrics, never for a security decision.
 */
export function fingerprintPostgres(text: string): Result<string> {
  if (!loaded) return fail('ERR_INTERNAL', { cause: new Error('PostgreSQL parser is not loaded') })
  const unsafe = unsafeCharacter(text)
  if (unsafe !== null) return fail('ERR_SQL_PARSE', { cause: new Error(unsafe) })
  try {
    return ok(fingerprintSync(text))
  } catch (error) {
    return fail('ERR_SQL_PARSE', { cause: error })
  }
}

/**
 * The statement with every literal replaced by a placeholder (`WHERE id = $1`), for audit records:
 * the shape of a query without the values in it.
 */
export function normalizePostgres(text: string): Result<string> {
  if (!loaded) return fail('ERR_INTERNAL', { cause: new Error('PostgreSQL parser is not loaded') })
  try {
    return ok(normalizeSync(text))
  } catch (error) {
    return fail('ERR_SQL_PARSE', { cause: error })
  }
}

/** One lexical token as PostgreSQL's scanner sees it (comments included). */
export interface SqlToken {
  readonly text: string
  /** Scanner token name (`IDENT`, `SCONST`, `SQL_COMMENT`, `C_COMMENT`, …; keywords show as `UNKNOWN`). */
  readonly tokenName: string
  /** True for any SQL keyword, reserved or not. */
  readonly keyword: boolean
  /** Byte offsets (UTF-8) of the token in the text, as the parse tree's locations count. */
  readonly start: number
  readonly end: number
}

/**
 * PostgreSQL's lexer over `text`. Not used for any decision (the parse tree decides): it finds the
 * extent of a relation name for the column rewrite (policy/relation-rewrite.ts, whose output is
 * parsed and checked again), and lets tests rewrite a statement token by token.
 */
export function scanPostgres(text: string): Result<readonly SqlToken[]> {
  if (!loaded) return fail('ERR_INTERNAL', { cause: new Error('PostgreSQL parser is not loaded') })
  const unsafe = unsafeCharacter(text)
  if (unsafe !== null) return fail('ERR_SQL_PARSE', { cause: new Error(unsafe) })
  try {
    return ok(
      scanSync(text).tokens.map((token) => ({
        text: token.text,
        tokenName: token.tokenName,
        keyword: token.keywordKind !== 0,
        start: token.start,
        end: token.end,
      })),
    )
  } catch (error) {
    return fail('ERR_SQL_PARSE', { cause: error })
  }
}

/**
 * Text the parser and the server would not read the same way, refused before parsing:
 * - NUL: the WASM parser reads a C string and stops at the first NUL, so `SELECT 1\0; DROP …`
 *   would be analysed as `SELECT 1` while the whole text went on towards the server (which
 *   happens to refuse it at the protocol level; we do not rely on that).
 * - A lone UTF-16 surrogate: the parser would see one byte sequence and the driver, which
 *   replaces it with U+FFFD when it encodes UTF-8, would send another.
 */
function unsafeCharacter(text: string): string | null {
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index)
    if (code === 0) return 'NUL character in SQL text'
    if (code >= 0xd800 && code <= 0xdfff) {
      const next = text.charCodeAt(index + 1)
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) index += 1
      else return 'lone surrogate in SQL text'
    }
  }
  return null
}

function isDepthFailure(error: unknown): boolean {
  if (error instanceof RangeError) return true
  const message = error instanceof Error ? error.message : ''
  return message.startsWith('stack depth limit exceeded') || message.startsWith('memory exhausted')
}
