/**
 * OAuth 2.1 access tokens (JWT) checked against the issuer's JWKS with jose: the signature with an
 * allowlist of asymmetric algorithms only (so `alg: none` and HS/RS confusion cannot verify), `iss`,
 * `aud` (this resource), `exp` and `nbf` with a small clock skew, then scopes. Claims map to the
 * principal and roles by config. Results, not exceptions: the caller answers 401 or 403.
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose'
import type { OAuthConfig } from '../config/config-schema.js'
import { createPrincipal, type Principal } from '../pipeline/request-context.js'

export type JwtVerdict =
  | { readonly ok: true; readonly principal: Principal; readonly scopes: readonly string[] }
  | { readonly ok: false; readonly reason: 'invalid_token' | 'insufficient_scope' }

export class JwtVerifier {
  readonly #config: OAuthConfig
  readonly #jwks: ReturnType<typeof createRemoteJWKSet>

  constructor(config: OAuthConfig) {
    this.#config = config
    this.#jwks = createRemoteJWKSet(new URL(config.jwksUri), {
      cooldownDuration: config.jwksCooldownMs,
      cacheMaxAge: config.jwksCacheMaxAgeMs,
      timeoutDuration: 5_000,
    })
  }

  get issuer(): string {
    return this.#config.issuer
  }

  async verify(token: string): Promise<JwtVerdict> {
    let payload: JWTPayload
    try {
      ;({ payload } = await jwtVerify(token, this.#jwks, {
        issuer: this.#config.issuer,
        audience: this.#config.audience,
        algorithms: [...this.#config.algorithms],
        clockTolerance: this.#config.clockSkewSec,
        requiredClaims: ['exp', this.#config.principalClaim],
      }))
    } catch {
      // Which check failed stays local: the client learns only that the token is not valid.
      return { ok: false, reason: 'invalid_token' }
    }
    const subject = payload[this.#config.principalClaim]
    if (typeof subject !== 'string' || !/^[A-Za-z0-9_.@|:-]{1,128}$/.test(subject)) return { ok: false, reason: 'invalid_token' }
    const scopes = scopesOf(payload)
    if (!this.#config.requiredScopes.every((s) => scopes.includes(s))) return { ok: false, reason: 'insufficient_scope' }
    const roles = rolesOf(payload, this.#config)
    if (roles.length === 0) return { ok: false, reason: 'insufficient_scope' }
    const claims = claimsOf(payload, this.#config.claimSettings)
    return { ok: true, principal: createPrincipal(subject, roles, claims), scopes }
  }
}

/** RFC 8693/9068: `scope` is a space-separated string; some issuers send `scp` as an array. */
function scopesOf(payload: JWTPayload): string[] {
  if (typeof payload.scope === 'string') return payload.scope.split(' ').filter(Boolean)
  const scp = payload.scp
  return Array.isArray(scp) ? scp.filter((s): s is string => typeof s === 'string') : []
}

/** The configured claims that are scalars; anything else is left out (never stringified objects). */
function claimsOf(payload: JWTPayload, names: readonly string[]): Readonly<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const name of names) {
    const value = payload[name]
    if (typeof value === 'string' && value.length <= 256) out[name] = value
    else if (typeof value === 'number' || typeof value === 'boolean') out[name] = String(value)
  }
  return out
}

/** Roles from the configured claim (string or array), else the configured default roles. */
function rolesOf(payload: JWTPayload, config: OAuthConfig): string[] {
  const claim = config.rolesClaim === undefined ? undefined : payload[config.rolesClaim]
  const raw = typeof claim === 'string' ? [claim] : Array.isArray(claim) ? claim : []
  const roles = raw.filter((r): r is string => typeof r === 'string' && /^[A-Za-z0-9_.@-]{1,128}$/.test(r))
  return roles.length > 0 ? roles : [...config.defaultRoles]
}
