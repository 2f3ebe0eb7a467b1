/**
 * Every case of the PostgreSQL security corpus through SQL analysis and the function policy,
 * without a database (the fake catalog answers like a real one for the names the corpus uses).
 * `allow` cases must pass both stages; every other case must fail with exactly its error code.
 * The live test runs the same files against a real PostgreSQL and checks side effects.
 */
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { loadPostgresParser } from '../../src/sql/parser/postgres-parser.js'
import { classifySql } from './classify-sql.js'
import { listCorpusCategories, loadPostgresCorpus, type LoadedCase } from './load-postgres-corpus.js'

const corpus = loadPostgresCorpus()

before(async () => {
  await loadPostgresParser()
})

describe('corpus shape', () => {
  test('has at least 250 cases: at least 100 must-allow and 150 refusals', () => {
    const allow = corpus.filter((entry) => entry.expect === 'allow').length
    assert.ok(corpus.length >= 250, `${corpus.length} cases`)
    assert.ok(allow >= 100, `${allow} allow cases`)
    assert.ok(corpus.length - allow >= 150, `${corpus.length - allow} refusals`)
  })

  test('every category folder has cases', () => {
    const categories = listCorpusCategories()
    assert.ok(categories.length >= 20)
    for (const category of categories) {
      assert.ok(corpus.some((entry) => entry.category === category), `${category} is empty`)
    }
  })

  test('covers every bypass class of DESIGN.md §4 that applies to PostgreSQL', () => {
    for (const category of [
      'stacked-statements',
      'data-modifying-cte',
      'select-into',
      'create-table-as',
      'explain',
      'from-clause-functions',
      'attribute-notation',
      'unicode-identifiers',
      'side-effect-functions',
      'disclosure-functions',
      'settings',
      'other-connections',
      'large-objects',
      'sequences-and-xids',
    ]) {
      assert.ok(corpus.some((entry) => entry.category === category && entry.expect !== 'allow'), category)
    }
  })

  test('every refusal names a requirement; placeholders match params', () => {
    for (const entry of corpus) {
      if (entry.expect !== 'allow') assert.ok(entry.requirement?.startsWith('sql:reject:'), entry.id)
      const placeholders = [...entry.sql.matchAll(/\$(\d+)/g)].map((match) => Number(match[1]))
      if (entry.expect === 'allow' && placeholders.length > 0) {
        assert.equal(entry.params?.length, Math.max(...placeholders), `${entry.id}: params for $n`)
      }
    }
  })
})

describe('corpus cases', () => {
  for (const entry of corpus) {
    test(`${entry.id}: ${entry.expect}`, async () => {
      await assertCase(entry)
    })
  }
})

async function assertCase(entry: LoadedCase): Promise<void> {
  const { outcome, subject } = await classifySql(entry.sql)
  assert.equal(outcome, entry.expect, `${entry.id} (${entry.description}) → ${outcome} ${subject ?? ''}`)
}
