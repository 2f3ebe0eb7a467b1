/**
 * The direct JSON exchange serves only what the SDK's stateless transport would accept and route to
 * 2025-era serving; everything else must go to the SDK's handler (http-json-exchange.ts).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { headersAllowExchange, routeBody } from '../../../src/transport/http-json-exchange.js'

function req(headers: Record<string, string>, method = 'POST'): IncomingMessage {
  return { method, headers } as unknown as IncomingMessage
}

const good = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'query', arguments: { sql: 'SELECT 1' } } }

test('headers: POST, JSON content and both accepted media types, else the SDK answers', () => {
  assert.equal(headersAllowExchange(req(good)), true)
  assert.equal(headersAllowExchange(req({ ...good, 'content-type': 'application/json; charset=utf-8' })), true)
  assert.equal(headersAllowExchange(req(good, 'GET')), false)
  assert.equal(headersAllowExchange(req({ ...good, accept: 'application/json' })), false)
  assert.equal(headersAllowExchange(req({ ...good, accept: 'text/event-stream' })), false)
  assert.equal(headersAllowExchange(req({ ...good, 'content-type': 'text/plain' })), false)
  assert.equal(headersAllowExchange(req({ accept: good.accept })), false)
})

test('body: a single valid 2025-era request other than initialize is served directly', () => {
  const route = routeBody(req(good), call)
  assert.equal(route.kind, 'exchange')
  if (route.kind === 'exchange') assert.equal(route.message.id, 1)
  assert.equal(routeBody(req({ ...good, 'mcp-protocol-version': '2025-06-18' }), call).kind, 'exchange')
  assert.equal(routeBody(req(good), { jsonrpc: '2.0', id: 'a', method: 'tools/list' }).kind, 'exchange')
  assert.equal(routeBody(req(good), { jsonrpc: '2.0', id: 2, method: 'ping' }).kind, 'exchange')
})

test('body: initialize, notifications, responses, batches, invalid messages and other eras go to the SDK', () => {
  const sdk = (headers: Record<string, string>, body: unknown) => assert.equal(routeBody(req(headers), body).kind, 'sdk', JSON.stringify(body))
  sdk(good, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } })
  sdk(good, { jsonrpc: '2.0', method: 'notifications/initialized' })
  sdk(good, { jsonrpc: '2.0', id: 1, result: {} })
  sdk(good, [call])
  sdk(good, { jsonrpc: '1.0', id: 1, method: 'tools/call' })
  sdk(good, { id: 1, method: 'tools/call' })
  sdk(good, 'tools/call')
  sdk(good, null)
  sdk(good, 42)
  sdk({ ...good, 'mcp-protocol-version': '1999-01-01' }, call)
  sdk({ ...good, 'mcp-protocol-version': '2026-07-28' }, call)
})
