/**
 * Loads the PostgreSQL security corpus: `test/security/corpus/postgres/<category>/<case>.json`.
 * Each case is data, so the same cases drive the analysis test (no database) and the live test
 * (real PostgreSQL, side-effect checks). The loader validates every file strictly: a typo in a
 * corpus file must fail the suite, not silently skip a case.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { isErrorCode, type ErrorCode } from '../../src/errors/error-codes.js'

export const SIDE_EFFECT_CHECKS = [
  'rows',
  'sequence',
  'setting',
  'advisory_lock',
  'notification',
  'file',
  'large_object',
  'table_exists',
  'none',
] as const
export type SideEffectCheck = (typeof SIDE_EFFECT_CHECKS)[number]

export type CorpusParam = string | number | boolean | null

export interface CorpusCase {
  readonly description: string
  readonly sql: string
  readonly params?: readonly CorpusParam[]
  /** `allow`, or the exact error code analysis or the function policy must return. */
  readonly expect: 'allow' | ErrorCode
  /** Requirement id, `sql:reject:<class>` or `sql:allow:<class>`. */
  readonly requirement?: string
  /** What a live test should verify did not happen if the refusal ever failed. */
  readonly sideEffectCheck?: SideEffectCheck
  /**
   * The verdict of the write path (the `execute` tool: analyzeWriteSql and the function policy),
   * for cases that also exercise it. `expect` stays the read path's verdict for the same text.
   */
  readonly write?: { readonly expect: 'allow' | ErrorCode }
}

export interface LoadedCase extends CorpusCase {
  readonly category: string
  /** `<category>/<case>` without `.json`. */
  readonly id: string
  readonly file: string
}

export const POSTGRES_CORPUS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'corpus', 'postgres')

const KEYS = new Set(['description', 'sql', 'params', 'expect', 'requirement', 'sideEffectCheck', 'write'])

export function loadPostgresCorpus(dir = POSTGRES_CORPUS_DIR): LoadedCase[] {
  const cases: LoadedCase[] = []
  for (const category of fs.readdirSync(dir).sort()) {
    const categoryDir = path.join(dir, category)
    if (!fs.statSync(categoryDir).isDirectory()) throw new Error(`corpus: ${category} is not a category folder`)
    for (const name of fs.readdirSync(categoryDir).sort()) {
      const file = path.join(categoryDir, name)
      if (!name.endsWith('.json')) throw new Error(`corpus: unexpected file ${file}`)
      cases.push({ ...parseCase(file, fs.readFileSync(file, 'utf8')), category, id: `${category}/${name.slice(0, -5)}`, file })
    }
  }
  return cases
}

/** The category folders, including empty ones (a test requires none to be empty). */
export function listCorpusCategories(dir = POSTGRES_CORPUS_DIR): string[] {
  return fs
    .readdirSync(dir)
    .filter((entry) => fs.statSync(path.join(dir, entry)).isDirectory())
    .sort()
}

function parseCase(file: string, text: string): CorpusCase {
  const value: unknown = JSON.parse(text)
  const problem = (message: string): Error => new Error(`corpus ${file}: ${message}`)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw problem('not an object')
  const record = value as Record<string, unknown>
  for (const key of Object.keys(record)) if (!KEYS.has(key)) throw problem(`unknown key ${key}`)
  const { description, sql, params, expect, requirement, sideEffectCheck, write } = record
  if (write !== undefined) {
    if (typeof write !== 'object' || write === null || Array.isArray(write)) throw problem('write must be an object')
    const keys = Object.keys(write)
    const writeExpect = (write as Record<string, unknown>)['expect']
    if (keys.length !== 1 || (writeExpect !== 'allow' && !isErrorCode(writeExpect))) throw problem('write must be { "expect": "allow" | <error code> }')
  }
  if (typeof description !== 'string' || description.length === 0) throw problem('description must be a non-empty string')
  if (typeof sql !== 'string') throw problem('sql must be a string')
  if (expect !== 'allow' && !isErrorCode(expect)) throw problem(`expect must be "allow" or an error code, got ${String(expect)}`)
  if (params !== undefined) {
    if (!Array.isArray(params)) throw problem('params must be an array')
    for (const param of params) {
      if (param !== null && !['string', 'number', 'boolean'].includes(typeof param)) throw problem('params must be scalars')
    }
  }
  if (requirement !== undefined && (typeof requirement !== 'string' || !/^sql:(reject|allow):[a-z0-9-]+$/.test(requirement))) {
    throw problem('requirement must look like sql:reject:<class> or sql:allow:<class>')
  }
  if (sideEffectCheck !== undefined && !(SIDE_EFFECT_CHECKS as readonly unknown[]).includes(sideEffectCheck)) {
    throw problem(`unknown sideEffectCheck ${String(sideEffectCheck)}`)
  }
  return {
    description,
    sql,
    expect,
    ...(params === undefined ? {} : { params: params as CorpusParam[] }),
    ...(requirement === undefined ? {} : { requirement }),
    ...(sideEffectCheck === undefined ? {} : { sideEffectCheck: sideEffectCheck as SideEffectCheck }),
    ...(write === undefined ? {} : { write: write as { expect: 'allow' | ErrorCode } }),
  }
}
