/**
 * The common case of Streamable HTTP, served without the SDK's web plumbing: one 2025-era JSON-RPC
 * request (tools/call, tools/list, ping, …) in a POST, answered as `application/json` by a fresh
 * `Server` (the same createMcpServer as every other path) on an in-process, single-exchange
 * transport. The SDK's stateless fallback turns each POST into a web `Request`, a per-request
 * transport, an SSE `ReadableStream` wrapped in a second one and a web `Response` piped back to
 * Node; that plumbing was most of the server's CPU per HTTP call.
 *
 * The routing is the SDK's own: a request is served here only when `classifyInboundRequest` routes
 * it to legacy serving and every check the SDK's stateless transport makes would pass (Accept,
 * Content-Type, MCP-Protocol-Version, a valid JSON-RPC request per `parseJSONRPCMessage`). Anything
 * else (initialize, notifications, responses, batches, GET/DELETE, 2026-07-28 requests, a check
 * that fails) goes to the SDK's handler unchanged. Authentication, the Host/Origin checks and the
 * body cap run before this, in http-transport.ts; the principal is the caller's, per request.
 * Streamable HTTP lets a server answer a POST with JSON instead of an SSE stream (MCP spec,
 * transports §Sending Messages to the Server, item 5); a notification the server sends while
 * answering has no stream to go to and is dropped, as in the SDK's JSON response mode.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  classifyInboundRequest,
  isJsonContentType,
  parseJSONRPCMessage,
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCMessage,
  type MessageExtraInfo,
  type Server,
  type Transport,
} from '@modelcontextprotocol/server'

type RequestId = string | number

/** A transport for exactly one request: its answer resolves `answer`, nothing else leaves. */
class SingleExchangeTransport implements Transport {
  onclose?: () => void
  onerror?: (error: Error) => void
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void
  readonly answer: Promise<JSONRPCMessage | null>
  readonly #id: RequestId
  #settle!: (message: JSONRPCMessage | null) => void
  #closed = false

  constructor(id: RequestId) {
    this.#id = id
    this.answer = new Promise((resolve) => (this.#settle = resolve))
  }

  async start(): Promise<void> {}

  async send(message: JSONRPCMessage): Promise<void> {
    if (('result' in message || 'error' in message) && message.id === this.#id) this.#settle(message)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#settle(null)
    this.onclose?.()
  }
}

/** What the caller decided about the body: serve it here, or hand it (parsed) to the SDK. */
export type JsonExchangeRoute =
  | { readonly kind: 'exchange'; readonly message: JSONRPCMessage & { id: RequestId; method: string } }
  | { readonly kind: 'sdk' }

/** The headers the SDK's stateless transport requires of a POST before it reads the body. */
export function headersAllowExchange(req: IncomingMessage): boolean {
  const accept = req.headers.accept
  return (
    req.method === 'POST' &&
    typeof accept === 'string' &&
    accept.includes('application/json') &&
    accept.includes('text/event-stream') &&
    isJsonContentType(req.headers['content-type'] ?? null)
  )
}

/** Routes a parsed body: a single, valid, 2025-era request other than initialize is served here. */
export function routeBody(req: IncomingMessage, body: unknown): JsonExchangeRoute {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { kind: 'sdk' }
  const protocolVersion = single(req.headers['mcp-protocol-version'])
  if (protocolVersion !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(protocolVersion)) return { kind: 'sdk' }
  const outcome = classifyInboundRequest({
    httpMethod: 'POST',
    ...(protocolVersion === undefined ? {} : { protocolVersionHeader: protocolVersion }),
    ...optionalHeader('mcpMethodHeader', single(req.headers['mcp-method'])),
    ...optionalHeader('mcpNameHeader', single(req.headers['mcp-name'])),
    body,
  })
  if (outcome.kind !== 'legacy') return { kind: 'sdk' }
  let message: JSONRPCMessage
  try {
    message = parseJSONRPCMessage(body)
  } catch {
    return { kind: 'sdk' }
  }
  if (!('method' in message) || !('id' in message) || message.method === 'initialize') return { kind: 'sdk' }
  return { kind: 'exchange', message: message as JSONRPCMessage & { id: RequestId; method: string } }
}

/**
 * Serves one request on `server` and writes its answer. If the client goes away first, the server
 * is closed, which aborts the call (the driver cancels the statement).
 */
export async function serveExchange(
  server: Server,
  message: JSONRPCMessage & { id: RequestId },
  extra: MessageExtraInfo,
  res: ServerResponse,
): Promise<void> {
  const transport = new SingleExchangeTransport(message.id)
  let answered = false
  const onClose = (): void => {
    if (!answered) void transport.close()
  }
  res.once('close', onClose)
  await server.connect(transport)
  transport.onmessage?.(message, extra)
  const answer = await transport.answer
  answered = true
  res.off('close', onClose)
  if (answer === null) {
    if (!res.headersSent && !res.destroyed) res.destroy()
    return
  }
  const text = JSON.stringify(answer)
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

function optionalHeader<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string }
}
