/**
 * API keys for HTTP callers. Only a hash of each key is stored in the config; a presented key is
 * hashed and compared with every stored hash in constant time, so neither the comparison nor the
 * number of keys checked depends on how much of a guess was right (Hono's timing-safe compare).
 * Keys are 256 random bits, so a plain SHA-256 is the right hash: there is nothing to brute-force.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { createPrincipal, type Principal } from '../pipeline/request-context.js'

export const API_KEY_PREFIX = 'swk_'
export const API_KEY_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/

export interface ApiKeyEntry {
  readonly principal: string
  readonly roles: readonly string[]
  /** `sha256:<hex>` of the key. */
  readonly hash: string
  readonly claims?: Readonly<Record<string, string>>
}

export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`
}

export function hashApiKey(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`
}

export class ApiKeyVerifier {
  readonly #entries: readonly { readonly digest: Buffer; readonly principal: Principal }[]

  constructor(entries: readonly ApiKeyEntry[]) {
    this.#entries = entries.map((e) => ({
      digest: Buffer.from(e.hash.slice('sha256:'.length), 'hex'),
      principal: createPrincipal(e.principal, e.roles, e.claims),
    }))
  }

  get size(): number {
    return this.#entries.length
  }

  /** The principal a key belongs to, or null. Every stored hash is compared, match or not. */
  verify(key: string): Principal | null {
    const digest = createHash('sha256').update(key, 'utf8').digest()
    let found: Principal | null = null
    for (const entry of this.#entries) {
      if (timingSafeEqual(digest, entry.digest) && found === null) found = entry.principal
    }
    return found
  }
}

/**
 * The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1), or null when the header
 * is missing or not of that form. The scheme is case-insensitive; the token is not.
 */
export function bearerToken(header: string | string[] | undefined): string | null {
  if (typeof header !== 'string') return null
  const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim())
  return match?.[1] ?? null
}
