/**
 * The write path (the `execute` tool) over the security corpus, without a database: every case
 * with a `write` verdict goes through analyzeWriteSql and the function policy against the fake
 * catalog, and must get exactly that verdict. The same cases' `expect` (the read path's verdict)
 * is checked by corpus-analysis.test.ts and, against a real PostgreSQL with side-effect checks, by
 * corpus-live.test.ts, so the query tool is proven to refuse every one of them as well.
 */
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { loadPostgresParser } from '../../src/sql/parser/postgres-parser.js'
import { classifySql } from './classify-sql.js'
import { loadPostgresCorpus } from './load-postgres-corpus.js'

const cases = loadPostgresCorpus().filter((c) => c.write !== undefined)

before(async () => {
  await loadPostgresParser()
})

test('the write corpus covers the write path and the known bypass classes', () => {
  const allow = cases.filter((c) => c.write?.expect === 'allow').length
  assert.ok(allow >= 10, `${allow} allowed writes`)
  assert.ok(cases.length - allow >= 20, `${cases.length - allow} write-path refusals`)
  for (const id of [
    'write-bypass/data-modifying-cte-in-insert',
    'write-bypass/select-into',
    'write-bypass/merge',
    'write-bypass/ddl-drop',
    'write-bypass/volatile-udf-in-values',
    'write-bypass/stacked-write',
  ]) {
    assert.ok(cases.some((c) => c.id === id), id)
  }
  // Every case that execute accepts is refused by the read path.
  for (const c of cases) if (c.write?.expect === 'allow') assert.notEqual(c.expect, 'allow', c.id)
})

test('every write-path verdict holds', async () => {
  const failures: string[] = []
  for (const c of cases) {
    const got = await classifySql(c.sql, 'write')
    if (got.outcome !== c.write?.expect) failures.push(`${c.id}: expected ${c.write?.expect}, got ${got.outcome} (${got.subject ?? ''})`)
  }
  assert.deepEqual(failures, [])
})
