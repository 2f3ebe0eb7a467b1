import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { ADMIN_URL, readerUrl, setupE2eDatabase, SHOP_SOURCE_YAML } from '../helpers/e2e-fixture.js'
import { startHttpCli, writeTempConfig, type HttpServerProcess } from '../helpers/cli-process.js'
import { checkReads, checkRefusals, checkToolList } from './tool-scenarios.js'

let server: HttpServerProcess
let client: Client

before(async () => {
  await setupE2eDatabase()
  const config = writeTempConfig(
    `${SHOP_SOURCE_YAML}limits:\n  maxRows: 40\nhttp:\n  listen: 127.0.0.1:0\n  maxBodyBytes: 65536\n`,
  )
  server = await startHttpCli(['--config', config], { E2E_DB_URL: readerUrl() })
  client = new Client({ name: 'e2e-http', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL(server.url)))
})

after(async () => {
  await client?.close()
  await server?.stop()
})

test('http: binds loopback by default', () => {
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/)
})

test('http: tools/list', async () => {
  await checkToolList(client)
})

test('http: reads', async () => {
  await checkReads(client, 40)
})

test('http: refusals', async () => {
  await checkRefusals(client)
})

function raw(path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const url = new URL(server.base)
  return new Promise<{ status: number; body: string; type: string }>((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path, method: init.method ?? 'GET', headers: init.headers, setHost: !init.headers?.host },
      (res) => {
        let body = ''
        res.on('data', (c: Buffer) => (body += c.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type'] ?? '') }))
      },
    )
    req.on('error', reject)
    req.end(init.body)
  })
}

const initBody = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
})
const mcpHeaders = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }

test('http: /healthz answers liveness; other paths are 404 with a stable code', async () => {
  const health = await raw('/healthz')
  assert.equal(health.status, 200)
  assert.deepEqual(JSON.parse(health.body), { status: 'ok' })
  const other = await raw('/admin')
  assert.equal(other.status, 404)
  assert.equal(JSON.parse(other.body).error.code, 'ERR_HTTP_NOT_FOUND')
})

test('http: DNS rebinding is refused by the Host check, without echoing the header', async () => {
  const r = await raw('/mcp', { method: 'POST', headers: { ...mcpHeaders, host: 'evil.example:80' }, body: initBody })
  assert.equal(r.status, 403)
  assert.equal(JSON.parse(r.body).error.code, 'ERR_HTTP_HOST_NOT_ALLOWED')
  assert.doesNotMatch(r.body, /evil/)
})

test('http: a foreign Origin is refused', async () => {
  const r = await raw('/mcp', { method: 'POST', headers: { ...mcpHeaders, origin: 'https://evil.example' }, body: initBody })
  assert.equal(r.status, 403)
  assert.equal(JSON.parse(r.body).error.code, 'ERR_HTTP_ORIGIN_NOT_ALLOWED')
  const local = await raw('/mcp', { method: 'POST', headers: { ...mcpHeaders, origin: 'http://localhost:3000' }, body: initBody })
  assert.equal(local.status, 200)
})

test('http: a body over the cap is refused with 413 before parsing', async () => {
  const big = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'query', arguments: { sql: `SELECT '${'x'.repeat(70_000)}'` } } })
  const r = await raw('/mcp', { method: 'POST', headers: mcpHeaders, body: big })
  assert.equal(r.status, 413)
})

// A single 2025-era request is answered as JSON by sqlwarden itself (http-json-exchange.ts); the
// rest takes the SDK's path. Both must behave as the protocol says.
const callBody = (id: number | string, sql: string) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'query', arguments: { sql } } })

test('http: a single tools/call is answered as application/json with its own id', async () => {
  const r = await raw('/mcp', { method: 'POST', headers: mcpHeaders, body: callBody('call-7', 'SELECT 41 + 1 AS answer') })
  assert.equal(r.status, 200)
  assert.match(r.type, /^application\/json/)
  const message = JSON.parse(r.body)
  assert.equal(message.id, 'call-7')
  assert.deepEqual(message.result.structuredContent.rows, [[42]])
  assert.match(message.result.content[0].text, /untrusted-data-[0-9a-f]{16}/)
})

test('http: refusals, unknown methods and bad params keep their protocol answers on the direct path', async () => {
  const refused = JSON.parse((await raw('/mcp', { method: 'POST', headers: mcpHeaders, body: callBody(1, 'DELETE FROM t') })).body)
  assert.equal(refused.result.isError, true)
  assert.match(refused.result.content[0].text, /^ERR_SQL_NOT_READ_ONLY/)
  const unknown = JSON.parse((await raw('/mcp', { method: 'POST', headers: mcpHeaders, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'no/such' }) })).body)
  assert.equal(unknown.error.code, -32601)
  const bad = JSON.parse((await raw('/mcp', { method: 'POST', headers: mcpHeaders, body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 5 } }) })).body)
  assert.equal(bad.id, 3)
  assert.ok(bad.error !== undefined || bad.result?.isError === true)
})

test('http: what the direct path does not serve still gets the SDK\'s answers', async () => {
  // Not JSON: the SDK's parse error, word for word.
  const notJson = await raw('/mcp', { method: 'POST', headers: mcpHeaders, body: '{"jsonrpc":' })
  assert.equal(notJson.status, 400)
  assert.equal(JSON.parse(notJson.body).error.code, -32700)
  // A notification: 202, no body.
  const note = await raw('/mcp', { method: 'POST', headers: mcpHeaders, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })
  assert.equal(note.status, 202)
  // A client that does not accept event streams: 406.
  const accept = await raw('/mcp', { method: 'POST', headers: { ...mcpHeaders, accept: 'application/json' }, body: callBody(4, 'SELECT 1') })
  assert.equal(accept.status, 406)
  // An unsupported protocol version header: 400.
  const version = await raw('/mcp', { method: 'POST', headers: { ...mcpHeaders, 'mcp-protocol-version': '1999-01-01' }, body: callBody(5, 'SELECT 1') })
  assert.equal(version.status, 400)
  // A batch of two calls: both answered (the SDK's stateless transport).
  const batch = await raw('/mcp', { method: 'POST', headers: mcpHeaders, body: `[${callBody(6, 'SELECT 1')},${callBody(7, 'SELECT 2')}]` })
  assert.equal(batch.status, 200)
  assert.match(batch.body, /"id":6/)
  assert.match(batch.body, /"id":7/)
})

test('http: a chunked body over the cap is refused with 413', async () => {
  const url = new URL(server.base)
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: '/mcp', method: 'POST', headers: mcpHeaders }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.write(callBody(8, `SELECT '${'x'.repeat(40_000)}'`))
    req.end(callBody(9, `SELECT '${'y'.repeat(40_000)}'`))
  })
  assert.equal(status, 413)
})

test('http: the server never logs the connection URL', () => {
  assert.doesNotMatch(server.stderr(), /sqlwarden_e2e_reader@|postgres:\/\//)
  assert.ok(ADMIN_URL.length > 0)
})
