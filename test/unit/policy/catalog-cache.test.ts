import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { CatalogCache } from '../../../src/policy/catalog-cache.js'
import { fn } from '../../security/fake-postgres-catalog.js'

describe('CatalogCache', () => {
  test('stores every asked name, with an empty list for names without rows', () => {
    const cache = new CatalogCache()
    cache.storeFunctions(['lower', 'nothing'], [fn('pg_catalog', 'lower', 'i'), fn('public', 'lower', 's'), fn('public', 'other', 'i')])
    assert.equal(cache.functions('lower')?.length, 2)
    assert.deepEqual(cache.functions('nothing'), [])
    assert.equal(cache.functions('other'), undefined, 'rows for names nobody asked for are not cached')
    assert.equal(cache.functions('unknown'), undefined)
  })

  test('functions and operators are separate', () => {
    const cache = new CatalogCache()
    cache.storeOperators(['='], [{ schema: 'pg_catalog', name: '=', function: fn('pg_catalog', 'int4eq', 'i') }])
    assert.equal(cache.operators('=')?.length, 1)
    assert.equal(cache.functions('='), undefined)
    assert.equal(cache.size, 1)
  })

  test('expires entries after the TTL, default 60 s', () => {
    let now = 0
    const cache = new CatalogCache({ now: () => now })
    cache.storeFunctions(['lower'], [])
    now = 59_999
    assert.deepEqual(cache.functions('lower'), [])
    now = 60_000
    assert.equal(cache.functions('lower'), undefined)
    assert.equal(cache.size, 0)
  })

  test('caps the number of entries, dropping the oldest', () => {
    const cache = new CatalogCache({ maxEntries: 2 })
    cache.storeFunctions(['a', 'b', 'c'], [])
    assert.equal(cache.functions('a'), undefined)
    assert.deepEqual(cache.functions('b'), [])
    assert.deepEqual(cache.functions('c'), [])
    assert.equal(cache.size, 2)
  })

  test('clear empties it', () => {
    const cache = new CatalogCache()
    cache.storeFunctions(['a'], [])
    cache.clear()
    assert.equal(cache.size, 0)
  })
})
