/**
 * A local OAuth issuer for tests: a JWKS endpoint on 127.0.0.1 with keys that can be rotated, and
 * helpers that sign tokens (valid, expired, wrong audience, unknown kid, …). Never a remote host.
 */
import { createServer, type Server } from 'node:http'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose'

export interface TestKey {
  readonly kid: string
  readonly alg: 'RS256' | 'ES256'
  readonly privateKey: CryptoKey
  readonly publicJwk: JWK
}

export async function makeKey(kid: string, alg: 'RS256' | 'ES256' = 'RS256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }
  return { kid, alg, privateKey, publicJwk }
}

export interface JwksServer {
  readonly url: string
  readonly issuer: string
  published: TestKey[]
  fetches: number
  close(): Promise<void>
}

export async function startJwksServer(keys: TestKey[]): Promise<JwksServer> {
  const state = { published: keys, fetches: 0 }
  const server: Server = createServer((req, res) => {
    if (req.url !== '/jwks.json') {
      res.writeHead(404).end()
      return
    }
    state.fetches++
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ keys: state.published.map((k) => k.publicJwk) }))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    issuer: `http://127.0.0.1:${port}`,
    get published() {
      return state.published
    },
    set published(v: TestKey[]) {
      state.published = v
    },
    get fetches() {
      return state.fetches
    },
    set fetches(v: number) {
      state.fetches = v
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}

export interface TokenOptions {
  readonly issuer: string
  readonly audience: string
  readonly subject?: string
  readonly scope?: string
  readonly roles?: string[]
  readonly expiresInSec?: number
  readonly notBeforeSec?: number
  readonly kid?: string
  readonly extra?: Record<string, unknown>
}

export async function signToken(key: TestKey, o: TokenOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const jwt = new SignJWT({ ...(o.extra ?? {}), ...(o.scope ? { scope: o.scope } : {}), ...(o.roles ? { roles: o.roles } : {}) })
    .setProtectedHeader({ alg: key.alg, kid: o.kid ?? key.kid, typ: 'at+jwt' })
    .setIssuer(o.issuer)
    .setAudience(o.audience)
    .setSubject(o.subject ?? 'alice')
    .setIssuedAt(now)
    .setExpirationTime(now + (o.expiresInSec ?? 300))
  if (o.notBeforeSec !== undefined) jwt.setNotBefore(now + o.notBeforeSec)
  return jwt.sign(key.privateKey)
}
