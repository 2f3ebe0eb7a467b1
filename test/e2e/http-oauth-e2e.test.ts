/**
 * OAuth 2.1 access tokens over HTTP end to end, against a local issuer (JWKS on 127.0.0.1): a valid
 * token works through the SDK client, a token without the required scope gets 403
 * insufficient_scope, an expired one 401, and the RFC 9728 metadata names the authorization server.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { readerUrl, setupE2eDatabase, SHOP_SOURCE_YAML } from '../helpers/e2e-fixture.js'
import { startHttpCli, writeTempConfig, type HttpServerProcess } from '../helpers/cli-process.js'
import { makeKey, signToken, startJwksServer, type JwksServer, type TestKey } from '../helpers/jwks-server.js'
import { call, textOf } from './tool-scenarios.js'

const AUDIENCE = 'urn:sqlwarden:e2e'
let jwks: JwksServer
let key: TestKey
let server: HttpServerProcess

before(async () => {
  await setupE2eDatabase()
  key = await makeKey('e2e-1')
  jwks = await startJwksServer([key])
  const config = writeTempConfig(
    [
      SHOP_SOURCE_YAML.trimEnd(),
      'http:',
      '  listen: 127.0.0.1:0',
      'auth:',
      '  oauth:',
      `    issuer: ${jwks.issuer}`,
      `    audience: ${AUDIENCE}`,
      `    jwksUri: ${jwks.url}`,
      '    requiredScopes: [sql:read]',
      '    rolesClaim: roles',
      '',
    ].join('\n'),
  )
  server = await startHttpCli(['--config', config], { E2E_DB_URL: readerUrl() })
})

after(async () => {
  await server?.stop()
  await jwks?.close()
})

async function post(token: string): Promise<Response> {
  return fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
  })
}

test('a valid access token works through the SDK client', async () => {
  const token = await signToken(key, { issuer: jwks.issuer, audience: AUDIENCE, scope: 'sql:read', roles: ['analyst'] })
  const client = new Client({ name: 'e2e-oauth', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  try {
    const r = await call(client, 'query', { sql: 'SELECT 1 AS one' })
    assert.equal(r.isError, undefined, textOf(r))
  } finally {
    await client.close()
  }
})

test('a token without the required scope: 403 insufficient_scope naming the scope', async () => {
  const token = await signToken(key, { issuer: jwks.issuer, audience: AUDIENCE, scope: 'openid' })
  const r = await post(token)
  assert.equal(r.status, 403)
  assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'ERR_AUTH_INSUFFICIENT_SCOPE')
  assert.match(r.headers.get('www-authenticate') ?? '', /error="insufficient_scope", scope="sql:read", resource_metadata=/)
})

test('an expired token or one for another audience: 401 invalid_token', async () => {
  for (const token of [
    await signToken(key, { issuer: jwks.issuer, audience: AUDIENCE, scope: 'sql:read', expiresInSec: -600 }),
    await signToken(key, { issuer: jwks.issuer, audience: 'urn:other', scope: 'sql:read' }),
  ]) {
    const r = await post(token)
    assert.equal(r.status, 401)
    assert.match(r.headers.get('www-authenticate') ?? '', /error="invalid_token"/)
  }
})

test('the protected-resource metadata names the authorization server and scopes', async () => {
  const r = await fetch(`${server.base}/.well-known/oauth-protected-resource`)
  const doc = (await r.json()) as Record<string, unknown>
  assert.deepEqual(doc.authorization_servers, [jwks.issuer])
  assert.deepEqual(doc.scopes_supported, ['sql:read'])
})
