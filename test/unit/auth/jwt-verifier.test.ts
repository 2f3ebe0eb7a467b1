/**
 * JWT access tokens against a local JWKS server (127.0.0.1): every classic way a token is wrong is
 * refused, scopes are enforced, and a rotated key is picked up without a restart.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac, createPublicKey } from 'node:crypto'
import { exportSPKI, importJWK } from 'jose'
import { JwtVerifier } from '../../../src/auth/jwt-verifier.js'
import type { OAuthConfig } from '../../../src/config/config-schema.js'
import { makeKey, signToken, startJwksServer, type JwksServer, type TestKey } from '../../helpers/jwks-server.js'

const AUDIENCE = 'http://127.0.0.1:8765/mcp'
let jwks: JwksServer
let key: TestKey
let config: OAuthConfig
let verifier: JwtVerifier

before(async () => {
  key = await makeKey('k1')
  jwks = await startJwksServer([key])
  config = {
    issuer: jwks.issuer,
    audience: AUDIENCE,
    jwksUri: jwks.url,
    algorithms: ['RS256', 'ES256'],
    clockSkewSec: 30,
    requiredScopes: ['sql:read'],
    principalClaim: 'sub',
    rolesClaim: 'roles',
    defaultRoles: ['default'],
    claimSettings: ['region', 'tier'],
    jwksCooldownMs: 0,
    jwksCacheMaxAgeMs: 600_000,
  }
  verifier = new JwtVerifier(config)
})

after(async () => {
  await jwks.close()
})

const good = () => ({ issuer: jwks.issuer, audience: AUDIENCE, scope: 'openid sql:read', roles: ['analyst'] })

test('a valid token maps sub and the roles claim to the principal', async () => {
  const v = await verifier.verify(await signToken(key, good()))
  assert.deepEqual(v, { ok: true, principal: { id: 'alice', roles: ['analyst'], claims: {} }, scopes: ['openid', 'sql:read'] })
})

test('configured claims reach the principal as strings; objects and unlisted claims do not', async () => {
  const v = await verifier.verify(await signToken(key, { ...good(), extra: { region: 'EU', tier: 3, secret: 'x', nested: { a: 1 } } }))
  assert.ok(v.ok)
  assert.deepEqual(v.principal.claims, { region: 'EU', tier: '3' })
})

test('no roles claim: the configured default roles', async () => {
  const { roles: _roles, ...rest } = good()
  const v = await verifier.verify(await signToken(key, rest))
  assert.ok(v.ok && v.principal.roles[0] === 'default')
})

for (const [label, make] of [
  ['expired', async () => signToken(key, { ...good(), expiresInSec: -120 })],
  ['not yet valid (nbf)', async () => signToken(key, { ...good(), notBeforeSec: 300 })],
  ['wrong audience', async () => signToken(key, { ...good(), audience: 'http://other.example/mcp' })],
  ['wrong issuer', async () => signToken(key, { ...good(), issuer: 'http://127.0.0.1:1' })],
  ['unknown kid (a key the issuer never published)', async () => signToken(await makeKey('rogue'), good())],
  ['a known kid but signed by another key', async () => signToken(await makeKey('k1'), good())],
  [
    'alg none',
    async () => {
      const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
      const now = Math.floor(Date.now() / 1000)
      return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ iss: jwks.issuer, aud: AUDIENCE, sub: 'alice', exp: now + 300, scope: 'sql:read' })}.`
    },
  ],
  [
    'HS256 signed with the public key as the secret (algorithm confusion)',
    async () => {
      const pem = await exportSPKI(createPublicKey({ key: key.publicJwk as never, format: 'jwk' }) as never)
      const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
      const now = Math.floor(Date.now() / 1000)
      const body = `${enc({ alg: 'HS256', kid: 'k1', typ: 'JWT' })}.${enc({ iss: jwks.issuer, aud: AUDIENCE, sub: 'alice', exp: now + 300, scope: 'sql:read' })}`
      return `${body}.${createHmac('sha256', pem).update(body).digest('base64url')}`
    },
  ],
  [
    'a tampered payload',
    async () => {
      const [h, p, s] = (await signToken(key, good())).split('.')
      const claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString())
      claims.sub = 'admin'
      return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`
    },
  ],
  ['garbage', async () => 'not.a.jwt'],
] as const) {
  test(`refused: ${label}`, async () => {
    assert.deepEqual(await verifier.verify(await make()), { ok: false, reason: 'invalid_token' })
  })
}

test('a token within the clock skew is accepted', async () => {
  const v = await verifier.verify(await signToken(key, { ...good(), expiresInSec: -10 }))
  assert.ok(v.ok)
})

test('a valid token without the required scope is insufficient_scope, not invalid', async () => {
  const v = await verifier.verify(await signToken(key, { ...good(), scope: 'openid' }))
  assert.deepEqual(v, { ok: false, reason: 'insufficient_scope' })
})

test('key rotation: a token signed with a newly published key verifies without a restart', async () => {
  const next = await makeKey('k2', 'ES256')
  const token = await signToken(next, good())
  assert.deepEqual(await verifier.verify(token), { ok: false, reason: 'invalid_token' }, 'not published yet')
  jwks.published = [key, next]
  const v = await verifier.verify(token)
  assert.ok(v.ok, 'picked up the rotated key')
  jwks.published = [next]
  assert.ok((await verifier.verify(await signToken(next, good()))).ok)
  assert.ok(await importJWK(next.publicJwk, 'ES256'))
})
