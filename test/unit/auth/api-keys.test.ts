import { test } from 'node:test'
import assert from 'node:assert/strict'
import { API_KEY_HASH_PATTERN, ApiKeyVerifier, bearerToken, generateApiKey, hashApiKey } from '../../../src/auth/api-keys.js'

test('a generated key is long, random, prefixed, and its hash has the stored form', () => {
  const a = generateApiKey()
  const b = generateApiKey()
  assert.notEqual(a, b)
  assert.match(a, /^swk_[A-Za-z0-9_-]{43}$/)
  assert.match(hashApiKey(a), API_KEY_HASH_PATTERN)
  assert.equal(hashApiKey(a), hashApiKey(a))
})

test('the verifier finds the principal of a stored key and nothing for any other', () => {
  const alice = generateApiKey()
  const bob = generateApiKey()
  const v = new ApiKeyVerifier([
    { principal: 'alice', roles: ['analyst'], hash: hashApiKey(alice) },
    { principal: 'bob', roles: ['support', 'viewer'], hash: hashApiKey(bob) },
  ])
  assert.deepEqual(v.verify(alice), { id: 'alice', roles: ['analyst'] })
  assert.deepEqual(v.verify(bob), { id: 'bob', roles: ['support', 'viewer'] })
  assert.equal(v.verify(`${alice}x`), null)
  assert.equal(v.verify(alice.slice(0, -1)), null)
  assert.equal(v.verify(''), null)
  assert.equal(v.verify(hashApiKey(alice)), null, 'the stored hash is not itself a key')
  assert.ok(Object.isFrozen(v.verify(alice)))
})

test('bearer tokens are read from the Authorization header only in the RFC 6750 form', () => {
  assert.equal(bearerToken('Bearer abc.DEF-123_~+/='), 'abc.DEF-123_~+/=')
  assert.equal(bearerToken('bearer abc'), 'abc')
  assert.equal(bearerToken(undefined), null)
  assert.equal(bearerToken(['Bearer a', 'Bearer b']), null)
  assert.equal(bearerToken('Basic dXNlcjpwYXNz'), null)
  assert.equal(bearerToken('Bearer'), null)
  assert.equal(bearerToken('Bearer a b'), null)
  assert.equal(bearerToken('Bearer a\u0000b'), null)
})
