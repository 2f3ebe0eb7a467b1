import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { ERROR_CATALOG, ERROR_CODES } from '../../../src/errors/error-codes.js'

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8')
const documented = [...doc.matchAll(/^\| `(ERR_[A-Z_]+)` \| (\w+) \| (yes|no) \| ([^|]+) \|/gm)]

test('every catalog code is documented in docs/errors.md with its surface, retryability and message', () => {
  for (const code of ERROR_CODES) {
    const row = documented.find((m) => m[1] === code)
    assert.ok(row, `${code} missing from docs/errors.md`)
    const spec = ERROR_CATALOG[code]
    assert.equal(row[2], spec.surface, `${code} surface`)
    assert.equal(row[3], spec.retryable ? 'yes' : 'no', `${code} retryable`)
    assert.equal(row[4]?.trim(), spec.message, `${code} message`)
  }
})

test('docs/errors.md lists no code the catalog lacks, and none twice', () => {
  const codes = documented.map((m) => m[1])
  assert.deepEqual([...codes].sort(), [...ERROR_CODES].sort())
  assert.equal(new Set(codes).size, codes.length)
})

test('catalog codes follow ERR_<AREA>_<REASON> and messages are fixed sentences without placeholders', () => {
  for (const code of ERROR_CODES) {
    assert.match(code, /^ERR_(CONFIG|AUTH|HTTP|TOOL|POLICY|SQL|SOURCE|EXEC|AUDIT|QUOTA|WRITE|INTERNAL)(_[A-Z]+)*$/)
    assert.doesNotMatch(ERROR_CATALOG[code].message, /[{}]|\$\{/)
  }
})

test('the catalog is frozen and has no prototype', () => {
  assert.ok(Object.isFrozen(ERROR_CATALOG))
  assert.equal(Object.getPrototypeOf(ERROR_CATALOG), null)
})
