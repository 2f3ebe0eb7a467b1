/**
 * libpq sslmode names → pg's `ssl` option. pg cannot fall back to plaintext, so `prefer` is
 * treated as `require` (encrypted, fail-closed) rather than silently connecting unencrypted.
 */
import { readFileSync } from 'node:fs'
import type { ConnectionOptions } from 'node:tls'

export type PostgresSslMode = 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full'

export interface PostgresSslOptions {
  readonly mode: PostgresSslMode
  /** Path of a CA bundle (PEM). */
  readonly ca?: string
}

/** Connection-string parameters that would override the explicit `ssl` option inside pg. */
const SSL_URL_PARAMS = ['ssl', 'sslmode', 'sslcert', 'sslkey', 'sslrootcert', 'sslnegotiation', 'uselibpqcompat']

export function pgSslConfig(
  ssl: PostgresSslOptions,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): false | ConnectionOptions {
  const ca = ssl.ca === undefined ? undefined : readFile(ssl.ca)
  const withCa = ca === undefined ? {} : { ca }
  switch (ssl.mode) {
    case 'disable':
      return false
    case 'prefer':
    case 'require':
      // Like libpq: `require` with a CA file given behaves as verify-ca.
      if (ca !== undefined) return { rejectUnauthorized: true, ca, checkServerIdentity: () => undefined }
      return { rejectUnauthorized: false }
    case 'verify-ca':
      // The chain must verify, but the certificate need not name the host.
      return { rejectUnauthorized: true, ...withCa, checkServerIdentity: () => undefined }
    case 'verify-full':
      return { rejectUnauthorized: true, ...withCa }
  }
}

/**
 * pg merges connection-string parameters over explicit options, so an `sslmode` left in the URL
 * would silently win over the configured `ssl`. When `ssl` is configured, those parameters go.
 */
export function withoutSslParams(connectionString: string): string {
  let url: URL
  try {
    url = new URL(connectionString)
  } catch {
    return connectionString
  }
  if (!SSL_URL_PARAMS.some((name) => url.searchParams.has(name))) return connectionString
  for (const name of SSL_URL_PARAMS) url.searchParams.delete(name)
  return url.toString()
}
