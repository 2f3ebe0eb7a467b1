/**
 * HTTP with API keys, end to end: a key made by `sqlwarden keys new` and pasted into the config
 * works through the SDK client; no key or a wrong key gets 401 with an RFC 6750 challenge that
 * points to the RFC 9728 metadata; the metadata and /healthz are served; the key never reaches a log.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { readerUrl, setupE2eDatabase, SHOP_SOURCE_YAML } from '../helpers/e2e-fixture.js'
import { runCli, startHttpCli, writeTempConfig, type HttpServerProcess } from '../helpers/cli-process.js'
import { call, textOf } from './tool-scenarios.js'

let server: HttpServerProcess
let key = ''

before(async () => {
  await setupE2eDatabase()
  const made = await runCli(['keys', 'new', '--principal', 'alice', '--role', 'analyst'])
  assert.equal(made.code, 0, made.stderr)
  key = /^\s+(swk_\S+)$/m.exec(made.stdout)?.[1] ?? ''
  const entry = made.stdout.slice(made.stdout.indexOf('  - principal:'))
  assert.ok(key && entry.includes('hash: sha256:'))
  assert.ok(!entry.includes(key), 'the config entry holds the hash, not the key')
  const config = writeTempConfig(
    `${SHOP_SOURCE_YAML}http:\n  listen: 127.0.0.1:0\nauth:\n  apiKeys:\n${entry}`,
  )
  server = await startHttpCli(['--config', config], { E2E_DB_URL: readerUrl() })
})

after(async () => {
  await server?.stop()
})

function raw(path: string, headers: Record<string, string> = {}, method = 'POST') {
  const url = new URL(server.base)
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} })
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path, method, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } },
      (res) => {
        let text = ''
        res.on('data', (c: Buffer) => (text += c.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
      },
    )
    req.on('error', reject)
    req.end(method === 'POST' ? body : undefined)
  })
}

test('no key: 401 ERR_AUTH_REQUIRED with a Bearer challenge pointing to the resource metadata', async () => {
  const r = await raw('/mcp')
  assert.equal(r.status, 401)
  assert.equal(JSON.parse(r.body).error.code, 'ERR_AUTH_REQUIRED')
  assert.match(String(r.headers['www-authenticate']), /^Bearer realm="sqlwarden", resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource"$/)
})

test('a wrong key: 401 ERR_AUTH_INVALID with error="invalid_token"', async () => {
  const r = await raw('/mcp', { authorization: `Bearer ${key}x` })
  assert.equal(r.status, 401)
  assert.equal(JSON.parse(r.body).error.code, 'ERR_AUTH_INVALID')
  assert.match(String(r.headers['www-authenticate']), /error="invalid_token"/)
  const basic = await raw('/mcp', { authorization: 'Basic YWxpY2U6eA==' })
  assert.equal(basic.status, 401)
})

test('the protected-resource metadata (RFC 9728) and /healthz need no key', async () => {
  const prm = await raw('/.well-known/oauth-protected-resource', {}, 'GET')
  assert.equal(prm.status, 200)
  const doc = JSON.parse(prm.body)
  assert.match(doc.resource, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/)
  assert.deepEqual(doc.bearer_methods_supported, ['header'])
  assert.equal((await raw('/healthz', {}, 'GET')).status, 200)
})

test('the pasted key works through the SDK client', async () => {
  const client = new Client({ name: 'e2e-auth', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }))
  try {
    const r = await call(client, 'query', { sql: 'SELECT count(*) AS n FROM customers' })
    assert.equal(r.isError, undefined, textOf(r))
    assert.deepEqual(r.structuredContent?.rows, [['1201']])
  } finally {
    await client.close()
  }
})

test('the key never appears in the server log', () => {
  assert.ok(key.length > 20)
  assert.ok(!server.stderr().includes(key))
})
