import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEMO_COUNTS, demoDatasetSql, INJECTION_TEXT } from '../../../src/exec/embedded/demo-dataset.js'

describe('demo-dataset', () => {
  it('is deterministic: the same script every time', () => {
    assert.equal(demoDatasetSql(), demoDatasetSql())
  })

  it('is one transaction that ends with the marker row', () => {
    const sql = demoDatasetSql().trim()
    assert.ok(sql.startsWith('BEGIN;'))
    assert.ok(sql.endsWith('COMMIT;'))
    const marker = sql.lastIndexOf('INSERT INTO sqlwarden_internal.sqlwarden_meta')
    assert.ok(marker > sql.lastIndexOf('INSERT INTO orders'), 'the marker is written after the data')
  })

  it('plants the prompt-injection text exactly once', () => {
    const sql = demoDatasetSql()
    assert.equal(sql.split(INJECTION_TEXT.replaceAll("'", "''")).length - 1, 1)
  })

  it('keeps the seed lean (a few thousand rows)', () => {
    const total = DEMO_COUNTS.customers + DEMO_COUNTS.products + DEMO_COUNTS.orders
    assert.ok(total >= 3_000 && total <= 10_000)
    assert.ok(demoDatasetSql().length < 1_000_000)
  })
})
