/**
 * The strict config schema. Every object is `.strict()`: an unknown key stops the start with a
 * message naming it (I8). Secure defaults are written here, each with the reason it is safe.
 * Options that weaken safety are named `allowUnsafe…` and default to false.
 */
import { z } from 'zod'
import { policySchema, type PolicyDocument } from '../policy/policy-schema.js'
import { parseDuration } from './duration.js'
import { quotaConfigSchema } from '../quota/quota-schema.js'

const duration = z
  .union([z.string(), z.number().int().nonnegative()])
  .transform((value, ctx) => {
    const ms = typeof value === 'number' ? value : parseDuration(value)
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: 'expected a duration such as 500ms, 30s or 2m' })
      return z.NEVER
    }
    return ms
  })

const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]*$/, 'expected a plain SQL identifier')

/** An HTTP timeout: 100 ms to 10 minutes. Never 0, which Node reads as "no timeout". */
const httpTimeout = duration.refine((ms) => ms >= 100 && ms <= 600_000, 'expected a duration from 100ms to 10m')

/** `schema.function` or `function`; matched case-sensitively against the catalog. */
const functionName = z.string().regex(/^([A-Za-z_][A-Za-z0-9_$]*\.)?[A-Za-z_][A-Za-z0-9_$]*$/)

export const sslSchema = z
  .object({
    /** libpq sslmode names; see docs/configuration.md for what each verifies. */
    mode: z.enum(['disable', 'prefer', 'require', 'verify-ca', 'verify-full']),
    /** CA bundle file for verify-ca / verify-full. */
    ca: z.string().min(1).optional(),
  })
  .strict()

export const postgresSourceSchema = z
  .object({
    kind: z.literal('postgres'),
    /** postgres:// URL. Held non-enumerable after load so it never reaches a log line. */
    url: z.string().min(1),
    ssl: sslSchema.optional(),
    /** Pool size per source. Small by default: each in-flight call holds one connection. */
    poolSize: z.number().int().min(1).max(200).default(10),
    /**
     * Fixed search_path for every call (transaction-local). Unqualified names resolve here, and the
     * function policy looks functions up in exactly these schemas plus pg_catalog.
     */
    searchPath: z.array(identifier).min(1).default(['public']),
    /** User-defined functions that are VOLATILE or SECURITY DEFINER but reviewed safe, by name. */
    allowFunctions: z.array(functionName).default([]),
    /** Start even if the role is a superuser or has BYPASSRLS. Loudly warned. */
    allowUnsafeRole: z.boolean().default(false),
  })
  .strict()

export const embeddedSourceSchema = z
  .object({
    kind: z.literal('embedded'),
    /** Where the PGlite data lives. Default: the user's cache directory (see embedded-paths). */
    dataDir: z.string().min(1).optional(),
    allowFunctions: z.array(functionName).default([]),
  })
  .strict()

export const sourceSchema = z.discriminatedUnion('kind', [postgresSourceSchema, embeddedSourceSchema])

export const limitsSchema = z
  .object({
    /** Rows returned per call. Protects the agent's context window. A call may lower it, never raise it. */
    maxRows: z.number().int().min(1).max(100_000).default(500),
    /** Bytes of row data returned per call (512 KiB). */
    maxBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(512 * 1024),
    /** Enforced by the server (`statement_timeout`, transaction-local), not only by the client. */
    statementTimeoutMs: duration.default(30_000),
    /** A read never waits long for a lock. */
    lockTimeoutMs: duration.default(5_000),
    /** Longest SQL text accepted before parsing (the parser is synchronous). */
    maxSqlLength: z.number().int().min(16).max(1_000_000).default(20_000),
    /** Deepest parse tree accepted. */
    maxSqlDepth: z.number().int().min(8).max(1_000).default(100),
    /**
     * Cost ceiling per `query` for everyone: PostgreSQL's estimated total plan cost (EXPLAIN,
     * never ANALYZE, run as the call's role). Above it: ERR_QUOTA_COST. A role's `maxCost` in the
     * policy can only lower it. Absent: no ceiling unless the policy sets one.
     */
    maxCost: z.number().positive().finite().optional(),
    /**
     * The cost check, an extra EXPLAIN round trip per `query` (README, Performance). Absent: on
     * whenever a ceiling is set (here or in the policy). `off` skips it even then: for a deployment
     * that bounds queries by statement timeout alone and does not want the round trip.
     */
    costCheck: z.enum(['on', 'off']).optional(),
  })
  .strict()

export const httpSchema = z
  .object({
    /** HOST:PORT. Loopback by default; a non-loopback bind is refused until authentication exists. */
    listen: z.string().default('127.0.0.1:8765'),
    /** Extra Host header values accepted besides the loopback names. */
    allowedHosts: z.array(z.string().min(1)).default([]),
    /** Extra Origin values accepted besides loopback origins. Requests without Origin are accepted. */
    allowedOrigins: z.array(z.string().min(1)).default([]),
    /** Body cap for POST /mcp (1 MiB): a call carries one SQL statement, not a data load. */
    maxBodyBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(1024 * 1024),
    /**
     * Slowloris: a request's headers must arrive within this (10 s), or it is answered 408 and the
     * connection closed. Checked at least once a second (never 0: 0 would turn the check off).
     */
    headersTimeoutMs: httpTimeout.default(10_000),
    /**
     * The whole request (headers and body) must arrive within this (30 s), or 408 and closed: a
     * body that trickles in cannot hold a connection. It bounds receiving the request only; the
     * answer is bounded by `limits.statementTimeoutMs`. At least `headersTimeoutMs`.
     */
    requestTimeoutMs: httpTimeout.default(30_000),
    /** An idle keep-alive connection is closed after this (5 s). */
    keepAliveTimeoutMs: httpTimeout.default(5_000),
    /**
     * Open connections per process (512). Past the cap a new connection is closed at once, without
     * an answer; the open ones keep working. Size it with the load balancer's connection pool.
     */
    maxConnections: z.number().int().min(1).max(65_535).default(512),
  })
  .strict()
  .refine((h) => h.headersTimeoutMs <= h.requestTimeoutMs, {
    message: 'headersTimeoutMs must not exceed requestTimeoutMs',
    path: ['headersTimeoutMs'],
  })

/** A claim name: becomes part of the setting name `sqlwarden.claim.<name>`. */
const claimName = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'expected a lower-case identifier')

/** A principal or role name: plain text that may appear in logs and, later, audit records. */
const principalName = z.string().regex(/^[A-Za-z0-9_.@-]{1,128}$/, 'expected 1-128 of A-Z a-z 0-9 _ . @ -')

export const oauthSchema = z
  .object({
    /** Expected `iss`, exactly. Also advertised in the RFC 9728 metadata. */
    issuer: z.string().url(),
    /** Expected `aud`: this resource's identifier (RFC 8707), usually the /mcp URL. */
    audience: z.string().min(1),
    /** The issuer's JWKS. */
    jwksUri: z.string().url(),
    /** Asymmetric algorithms only: HS* would let a public key act as an HMAC secret. */
    algorithms: z
      .array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']))
      .min(1)
      .default(['RS256', 'ES256']),
    /** Allowed clock skew for exp/nbf/iat, in seconds. */
    clockSkewSec: z.number().int().min(0).max(300).default(30),
    /** Scopes every token must carry; missing ones answer 403 insufficient_scope. */
    requiredScopes: z.array(z.string().min(1)).default([]),
    /** The claim that names the principal. */
    principalClaim: z.string().min(1).default('sub'),
    /** The claim that lists roles (string or array); absent → defaultRoles. */
    rolesClaim: z.string().min(1).optional(),
    defaultRoles: z.array(principalName).default(['default']),
    /** Token claims (string, number or boolean) exposed as current_setting('sqlwarden.claim.<name>'). */
    claimSettings: z.array(claimName).default([]),
    /** How soon an unknown `kid` may trigger a JWKS refetch (key rotation without restart). */
    jwksCooldownMs: z.number().int().min(0).max(600_000).default(30_000),
    jwksCacheMaxAgeMs: z.number().int().min(1_000).max(86_400_000).default(600_000),
  })
  .strict()

export const authSchema = z
  .object({
    /** The stdio caller. SQLWARDEN_PRINCIPAL overrides `principal`. */
    stdio: z
      .object({ principal: principalName.default('local'), roles: z.array(principalName).min(1).default(['default']) })
      .strict()
      .default({ principal: 'local', roles: ['default'] }),
    /**
     * HTTP API keys: only the hash is stored (`sqlwarden keys new` prints the key once and this
     * entry). With at least one key, every /mcp request needs `Authorization: Bearer <key>`.
     */
    apiKeys: z
      .array(
        z
          .object({
            principal: principalName,
            roles: z.array(principalName).min(1),
            hash: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'expected sha256:<64 hex digits> (see `sqlwarden keys new`)'),
            /** Exposed to SQL (and RLS policies) as current_setting('sqlwarden.claim.<name>'). */
            claims: z.record(claimName, z.string().max(256)).optional(),
          })
          .strict(),
      )
      .default([]),
    /** OAuth 2.1 access tokens (JWT) from an external authorization server. */
    oauth: oauthSchema.optional(),
  })
  .strict()

const policyFile = z.string().min(1, 'expected a policy file path or an inline policy')

/**
 * `policy:` is a file path (read by load-policy, relative to the working directory) or the policy
 * document itself, inline, checked by the same strict policySchema: an unknown key inside it stops
 * the start with its full path (`policy.roles.support.sources.demo.dbrole`). Dispatching on the
 * value's type, rather than a union, keeps that message: a union would report only "invalid input".
 */
export const policyRefSchema = z.unknown().transform((value, ctx): string | PolicyDocument => {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const inline = policySchema.safeParse(value)
    if (inline.success) return inline.data
    for (const issue of inline.error.issues) ctx.addIssue(issue as Parameters<typeof ctx.addIssue>[0])
    return z.NEVER
  }
  const file = policyFile.safeParse(value)
  if (file.success) return file.data
  ctx.addIssue({ code: 'custom', message: 'expected a policy file path or an inline policy (a mapping)' })
  return z.NEVER
})

/** Redaction patterns for recorded SQL and parameters: regular expressions that must compile. */
const redactPattern = z.string().min(1).refine((source) => {
  try {
    new RegExp(source, 'gu')
    return true
  } catch {
    return false
  }
}, 'expected a valid regular expression')

/** Default redactions: credentials that tend to end up in SQL text or parameters. */
export const DEFAULT_AUDIT_REDACTIONS: readonly string[] = [
  "(?<=password\\s*[=:]\\s*['\"]?)[^'\"\\s]+",
  '\\bAKIA[0-9A-Z]{16}\\b',
  '\\b(?:sk|pk|rk|swk)_[A-Za-z0-9_-]{16,}\\b',
  '\\beyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}\\b',
  '\\b(?:\\d[ -]?){13,19}\\b',
]

/**
 * The audit trail (docs/audit-logging.md). Absent: on for the embedded demo (a file in the cache
 * directory), off otherwise, with a notice. `--audit FILE` sets `file`.
 */
export const auditSchema = z
  .object({
    sink: z.enum(['file', 'postgres', 'stderr', 'off']).default('file'),
    /** JSONL file for the file sink; rotated files sit next to it. */
    file: z.string().min(1).optional(),
    /** `write`: survives a process crash. `fsync`: survives an OS crash (group commit). */
    durability: z.enum(['write', 'fsync']).default('write'),
    rotate: z
      .object({ maxBytes: z.number().int().min(4096).optional(), maxAge: duration.optional() })
      .strict()
      .default({}),
    /** HMAC-SHA-256 key (at least 32 characters; use `${VAR}`): the chain becomes a keyed MAC. */
    hmacKey: z.string().min(32, 'at least 32 characters').optional(),
    /** Record the raw SQL text (redacted) and the parameter values (redacted). Off by default. */
    recordSql: z.boolean().default(false),
    recordParams: z.boolean().default(false),
    redact: z.array(redactPattern).default([...DEFAULT_AUDIT_REDACTIONS]),
    /** A write slower than this fails its calls with ERR_AUDIT_UNAVAILABLE. */
    appendTimeoutMs: duration.default(5_000),
    /** The PostgreSQL sink: an append-only table shared by replicas, one chain per replica. */
    postgres: z
      .object({
        url: z.string().min(1),
        table: identifier.default('sqlwarden_audit'),
        /** This writer's chain name; default: host name and pid. */
        replica: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.sink === 'postgres' && a.postgres === undefined) ctx.addIssue({ code: 'custom', message: 'sink postgres needs audit.postgres.url', path: ['postgres'] })
  })

export const configSchema = z
  .object({
    /** Named sources. The CLI's --db becomes a source named `default`. */
    sources: z.record(identifier, sourceSchema).refine((s) => Object.keys(s).length > 0, 'at least one source'),
    /** The source a call uses when it names none. Must be a key of `sources`. */
    defaultSource: identifier.optional(),
    limits: limitsSchema.default(limitsSchema.parse({})),
    /** Transport. Absent: stdio. */
    http: httpSchema.optional(),
    /**
     * The policy: a YAML file path, or the document inline (see src/policy/policy-schema.ts).
     * Absent: every read tool for every caller.
     */
    policy: policyRefSchema.optional(),
    /** The audit trail; see auditSchema. */
    audit: auditSchema.optional(),
    /**
     * Quotas: the store (memory by default; redis or postgres to share limits between replicas),
     * defaults for every principal, and global concurrency per source. See docs/quotas.md.
     * Absent, and no quotas in the policy: no quota is enforced.
     */
    quotas: quotaConfigSchema.optional(),
    /** Who is calling: the stdio principal and HTTP API keys. */
    auth: authSchema.default({ stdio: { principal: 'local', roles: ['default'] }, apiKeys: [] }),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
  })
  .strict()

export type ConfigInput = z.input<typeof configSchema>
export type Config = z.output<typeof configSchema>
export type SourceConfig = z.output<typeof sourceSchema>
export type PostgresSourceConfig = z.output<typeof postgresSourceSchema>
export type EmbeddedSourceConfig = z.output<typeof embeddedSourceSchema>
export type LimitsConfig = z.output<typeof limitsSchema>
export type HttpConfig = z.output<typeof httpSchema>
export type AuthConfig = z.output<typeof authSchema>
export type AuditConfig = z.output<typeof auditSchema>
export type OAuthConfig = z.output<typeof oauthSchema>
export type { QuotaConfig } from '../quota/quota-schema.js'
