/**
 * Streamable HTTP (stateless; serves 2026-07-28 clients and, through the SDK's stateless fallback,
 * 2025-era clients). The edge is closed by default (I9): loopback bind (load-config refuses any other
 * until authentication exists), Host and Origin validation against DNS rebinding, a body cap, header
 * and request timeouts against slow clients, and a connection cap. `/healthz` answers liveness;
 * every other path is 404.
 */
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http'
import { toNodeHandler } from '@modelcontextprotocol/node'
import { createMcpHandler, validateHostHeader, validateOriginHeader } from '@modelcontextprotocol/server'
import { API_KEY_PREFIX, ApiKeyVerifier, bearerToken } from '../auth/api-keys.js'
import { JwtVerifier } from '../auth/jwt-verifier.js'
import type { AuthConfig, HttpConfig } from '../config/config-schema.js'
import { parseListenAddress } from '../config/listen-address.js'
import { ERROR_CATALOG, type ErrorCode } from '../errors/error-codes.js'
import type { Logger } from '../log/logger.js'
import type { PipelineDeps } from '../pipeline/pipeline.js'
import { createPrincipal, traceIdOf, type Principal } from '../pipeline/request-context.js'
import { refusalEvent } from '../audit/call-event.js'
import { randomUUID } from 'node:crypto'
import { createMcpServer } from '../server/create-mcp-server.js'
import { headersAllowExchange, routeBody, serveExchange } from './http-json-exchange.js'

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]', '::1']

export interface HttpHandle {
  readonly server: HttpServer
  /** The bound address, with the real port when 0 was asked for. */
  readonly url: string
  close(): Promise<void>
}

/** When the request arrived (for the duration in audit records). */
interface TimedRequest extends IncomingMessage {
  startedAt?: number
}

/** The verified principal rides to the per-request MCP server in the SDK's pass-through authInfo. */
interface AuthenticatedRequest extends IncomingMessage {
  auth?: { token: string; clientId: string; scopes: string[]; extra: { principal: Principal } }
}

export async function startHttp(
  deps: PipelineDeps,
  http: HttpConfig,
  auth: AuthConfig,
  logger: Logger,
): Promise<HttpHandle> {
  const address = parseListenAddress(http.listen)
  if (address === null) throw new Error('http.listen was validated at load time')
  const keys = new ApiKeyVerifier(auth.apiKeys)
  const jwt = auth.oauth === undefined ? null : new JwtVerifier(auth.oauth)
  const authRequired = keys.size > 0 || jwt !== null
  const metadata = (req: IncomingMessage) => ({
    resource: `${baseUrl(req)}/mcp`,
    bearer_methods_supported: ['header'],
    resource_name: 'sqlwarden',
    ...(auth.oauth === undefined ? {} : { authorization_servers: [auth.oauth.issuer] }),
    ...(auth.oauth?.requiredScopes.length ? { scopes_supported: [...auth.oauth.requiredScopes] } : {}),
  })
  /** API keys are recognised by their prefix; anything else is tried as a JWT when OAuth is on. */
  const authenticate = async (token: string): Promise<Principal | 'invalid_token' | 'insufficient_scope'> => {
    if (token.startsWith(API_KEY_PREFIX) || jwt === null) {
      const principal = keys.verify(token)
      if (principal === null) return 'invalid_token'
      authMethods.set(principal, 'api_key')
      return principal
    }
    const verdict = await jwt.verify(token)
    if (!verdict.ok) return verdict.reason
    authMethods.set(verdict.principal, 'oauth')
    return verdict.principal
  }
  // Without API keys (a loopback bind only; load-config refuses otherwise) the caller is the local user.
  const localPrincipal = createPrincipal(auth.stdio.principal, auth.stdio.roles)

  /**
   * A refusal of a request to /mcp before it became a tool call: audited like a call (write-ahead),
   * and answered 503 ERR_AUDIT_UNAVAILABLE instead when its record cannot be written.
   */
  const refuse = async (
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    code: ErrorCode,
    principal: Principal | null = null,
    send: () => void = () => sendError(res, status, code),
  ): Promise<void> => {
    const audit = deps.audit
    if (audit) {
      const written = await audit.log.record(
        refusalEvent({
          requestId: randomUUID(),
          code,
          startedAt: (req as TimedRequest).startedAt ?? performance.now(),
          principal,
          authMethod: principal === null ? null : methodOf(principal),
          traceId: traceIdOf(req.headers.traceparent),
        }),
      )
      if (!written) return sendError(res, 503, 'ERR_AUDIT_UNAVAILABLE')
    }
    send()
  }
  const methodOf = (principal: Principal): 'api_key' | 'oauth' | 'none' => authMethods.get(principal) ?? 'none'
  const authMethods = new WeakMap<Principal, 'api_key' | 'oauth'>()

  const principalOf = (authInfo: { extra?: Record<string, unknown> } | undefined): Principal => {
    const principal = authInfo?.extra?.principal as Principal | undefined
    if (principal !== undefined) return principal
    // Fail closed: with keys configured, nothing unauthenticated may reach the MCP handler.
    if (authRequired) throw new Error('an unauthenticated request reached the MCP handler')
    return localPrincipal
  }
  const serverFor = (principal: Principal) =>
    createMcpServer({ deps, policy: deps.policy, logger: deps.logger, transport: 'http', principal, authMethod: methodOf(principal) })
  const mcp = createMcpHandler((ctx) => serverFor(principalOf(ctx.authInfo)), {
    legacy: 'stateless',
    maxRequestBodySize: http.maxBodyBytes,
    onerror: (error) => logger.debug({ err: error }, 'mcp http handler reported an error'),
  })
  const handleMcp = toNodeHandler(mcp, { onerror: (error: unknown) => logger.warn({ err: error }, 'mcp http adapter error') } as never)
  /**
   * Reads the body (under the cap) of a POST the SDK's stateless transport would accept, and serves
   * a single 2025-era request itself (http-json-exchange.ts); everything else goes to the SDK's
   * handler with the body already parsed.
   */
  const serveMcp = async (req: AuthenticatedRequest, res: ServerResponse): Promise<void> => {
    if (!headersAllowExchange(req)) return handleMcp(req, res)
    const text = await readBody(req, http.maxBodyBytes)
    const caller = req.auth?.extra.principal ?? null
    // The body never completed: the request timeout cut it (Node has answered 408) or the client left.
    if (text === undefined) return refuse(req, res, 408, 'ERR_HTTP_INCOMPLETE', caller)
    if (text === null) return refuse(req, res, 413, 'ERR_HTTP_BODY_TOO_LARGE', caller)
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      // The SDK's answer to a body that is not JSON, word for word.
      return refuse(req, res, 400, 'ERR_HTTP_MALFORMED', caller, () =>
        sendJson(res, 400, { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error: Invalid JSON' }, id: null }),
      )
    }
    // Quotas at the edge (docs/quotas.md): a tools/call whose principal has no call left in its
    // `quotas.defaults.calls` bucket is refused before dispatch, 429 with Retry-After (audited).
    if (deps.quota?.checksAtEdge === true && isToolCall(body)) {
      const principal = principalOf(req.auth)
      const verdict = await deps.quota.edgeCheck(principal)
      if (!verdict.ok) {
        const status = verdict.code === 'ERR_QUOTA_RATE' ? 429 : 503
        const retryAfterMs = Number(verdict.data?.retryAfterMs ?? 1_000)
        return refuse(req, res, status, verdict.code, principal, () => {
          res.setHeader('retry-after', String(Math.max(1, Math.ceil(retryAfterMs / 1000))))
          sendJson(res, status, { error: { code: verdict.code, message: ERROR_CATALOG[verdict.code].message, retryAfterMs } })
        })
      }
    }
    const route = routeBody(req, body)
    if (route.kind === 'sdk') return handleMcp(req, res, body)
    const server = serverFor(principalOf(req.auth))
    return serveExchange(server, route.message, req.auth === undefined ? {} : { authInfo: req.auth }, res)
  }
  const allowedHosts = [...LOOPBACK_NAMES, ...http.allowedHosts]
  const allowedOrigins = [...LOOPBACK_NAMES, ...http.allowedOrigins]

  // Node checks the header and request timeouts on a timer (30 s by default): a slowloris could
  // hold a connection that long past its timeout. Check at a quarter of the shorter one, within
  // 100 ms–1 s, so the configured timeouts are what a client gets.
  const connectionsCheckingInterval = Math.max(100, Math.min(1_000, Math.floor(Math.min(http.headersTimeoutMs, http.requestTimeoutMs) / 4)))
  const server = createServer({ connectionsCheckingInterval }, async (req: IncomingMessage, res: ServerResponse) => {
    ;(req as TimedRequest).startedAt = performance.now()
    try {
      const path = (req.url ?? '/').split('?')[0]
      // The SDK's validators decide; the answer carries our stable code and never echoes the header.
      if (!validateHostHeader(req.headers.host, allowedHosts).ok) {
        return path === '/mcp' ? refuse(req, res, 403, 'ERR_HTTP_HOST_NOT_ALLOWED') : sendError(res, 403, 'ERR_HTTP_HOST_NOT_ALLOWED')
      }
      if (path === '/.well-known/oauth-protected-resource' || path === '/.well-known/oauth-protected-resource/mcp') {
        if (!authRequired) return sendError(res, 404, 'ERR_HTTP_NOT_FOUND')
        return sendJson(res, 200, metadata(req))
      }
      if (path === '/healthz') {
        if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'ERR_HTTP_NOT_FOUND')
        return sendJson(res, 200, { status: 'ok' })
      }
      if (path !== '/mcp') return sendError(res, 404, 'ERR_HTTP_NOT_FOUND')
      const origin = req.headers.origin
      if (origin !== undefined && !validateOriginHeader(origin, allowedOrigins).ok) {
        return refuse(req, res, 403, 'ERR_HTTP_ORIGIN_NOT_ALLOWED')
      }
      if (authRequired) {
        const token = bearerToken(req.headers.authorization)
        const principal = token === null ? null : await authenticate(token)
        if (principal === null || typeof principal === 'string') {
          const scopes = auth.oauth?.requiredScopes ?? []
          res.setHeader('www-authenticate', challenge(req, principal ?? null, scopes))
          req.resume()
          if (principal === 'insufficient_scope') return refuse(req, res, 403, 'ERR_AUTH_INSUFFICIENT_SCOPE')
          return refuse(req, res, 401, principal === null ? 'ERR_AUTH_REQUIRED' : 'ERR_AUTH_INVALID')
        }
        ;(req as AuthenticatedRequest).auth = { token: '[redacted]', clientId: principal.id, scopes: [], extra: { principal } }
      }
      const length = Number(req.headers['content-length'] ?? '0')
      if (Number.isFinite(length) && length > http.maxBodyBytes) {
        req.resume()
        return refuse(req, res, 413, 'ERR_HTTP_BODY_TOO_LARGE', (req as AuthenticatedRequest).auth?.extra.principal ?? null)
      }
      await serveMcp(req as AuthenticatedRequest, res)
    } catch (error) {
      logger.error({ err: error }, 'http request failed')
      if (!res.headersSent) sendError(res, 500, 'ERR_INTERNAL')
      else res.destroy()
    }
  })
  // Slow clients (config `http`, test/e2e/http-limits.test.ts): headers within headersTimeoutMs
  // (10 s) and the whole request within requestTimeoutMs (30 s), else 408 and closed; idle
  // keep-alive connections close after keepAliveTimeoutMs (5 s); past maxConnections (512) a new
  // connection is closed at once.
  server.headersTimeout = http.headersTimeoutMs
  server.requestTimeout = http.requestTimeoutMs
  server.keepAliveTimeout = http.keepAliveTimeoutMs
  server.maxConnections = http.maxConnections

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(address.port, address.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const bound = server.address()
  const port = typeof bound === 'object' && bound !== null ? bound.port : address.port
  const host = address.host.includes(':') ? `[${address.host}]` : address.host
  return {
    server,
    url: `http://${host}:${port}/mcp`,
    async close() {
      await mcp.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** A single JSON-RPC tools/call request (what the edge's quota check looks at). */
function isToolCall(body: unknown): boolean {
  return typeof body === 'object' && body !== null && !Array.isArray(body) && (body as { method?: unknown }).method === 'tools/call'
}

/** RFC 6750 §3 challenge pointing to the RFC 9728 metadata (MCP authorization spec). */
function challenge(req: IncomingMessage, error: 'invalid_token' | 'insufficient_scope' | null, scopes: readonly string[]): string {
  const metadata = `${baseUrl(req)}/.well-known/oauth-protected-resource`
  const parts = ['Bearer realm="sqlwarden"']
  if (error !== null) parts.push(`error="${error}"`)
  if (error === 'insufficient_scope' && scopes.length > 0) parts.push(`scope="${scopes.join(' ')}"`)
  parts.push(`resource_metadata="${metadata}"`)
  return parts.join(', ')
}

/** Built from the Host header, which was validated against the allowlist before this runs. */
function baseUrl(req: IncomingMessage): string {
  return `http://${req.headers.host ?? 'localhost'}`
}

/**
 * The body as text, null when it passes `maxBytes` (the rest is drained, not kept), or undefined
 * when the request closed before its end (the request timeout, or the client left).
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<string | null | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    let over = false
    req.on('data', (chunk: Buffer) => {
      if (over) return
      size += chunk.length
      if (size <= maxBytes) return void chunks.push(chunk)
      over = true
      chunks.length = 0
      resolve(null)
    })
    req.once('end', () => resolve(over ? null : (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString('utf8')))
    req.once('close', () => resolve(undefined))
    // A cut connection (the request timeout, a reset) errors the request before it closes: the
    // same incomplete request, audited as such, not an internal error.
    req.once('error', () => resolve(undefined))
  })
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function sendError(res: ServerResponse, status: number, code: ErrorCode): void {
  sendJson(res, status, { error: { code, message: ERROR_CATALOG[code].message } })
}
