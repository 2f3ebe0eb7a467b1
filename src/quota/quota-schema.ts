/**
 * The shape of quotas, shared by the policy (per role, per source grant) and the config (defaults
 * for everyone, the store, and per-source global concurrency). Strict: an unknown key stops the
 * start (I8). Reference: docs/quotas.md.
 *
 *   quotas:
 *     calls: { limit: 20, window: 1m, burst: 5 }   # token bucket: `burst` at once (default: limit), refilled at limit per window
 *     tools: { query: { limit: 10, window: 1m } }   # the same, per tool
 *     concurrency: 2                                # calls in flight at once (immediate refusal above it)
 *     rows: { limit: 10000, window: 1h }            # rows returned per window
 *     bytes: { limit: 10000000, window: 1h }        # bytes of row data returned per window
 *     dbTime: { limit: 30s, window: 1m }            # database time (sum of statement durations) per window
 */
import { z } from 'zod'
import { parseDuration } from '../config/duration.js'

/** A positive duration in milliseconds: `500ms`, `30s`, `2m`, `1h`, or a number of ms. */
export const quotaDuration = z.union([z.string(), z.number().int().positive()]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v : parseDuration(v)
  if (ms === null || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: 'expected a positive duration such as 500ms, 30s or 2m' })
    return z.NEVER
  }
  return ms
})

/** Longest window: a day (a budget that outlives a day belongs to billing, not to a guard). */
const MAX_WINDOW_MS = 86_400_000
const window = quotaDuration.refine((ms) => ms <= MAX_WINDOW_MS, 'at most 24h')

export const rateSchema = z
  .object({
    limit: z.number().int().min(1).max(1_000_000),
    window,
    /** Token bucket capacity: calls that may come at once. Default: `limit`. */
    burst: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict()

const countBudget = z.object({ limit: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER), window }).strict()
const timeBudget = z.object({ limit: quotaDuration, window }).strict()

/** Tool names are checked against the registry where they are used (an unknown name never matches). */
const toolName = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'expected a tool name such as query')

export const quotasSchema = z
  .object({
    calls: rateSchema.optional(),
    tools: z.record(toolName, rateSchema).optional(),
    concurrency: z.number().int().min(1).max(10_000).optional(),
    rows: countBudget.optional(),
    bytes: countBudget.optional(),
    dbTime: timeBudget.optional(),
  })
  .strict()

/** Global concurrency of one source (over every replica with a shared store), with a bounded FIFO wait queue. */
export const sourceConcurrencySchema = z
  .object({
    maxConcurrency: z.number().int().min(1).max(10_000),
    /** Calls that may wait for a slot; one more is refused at once. 0: no queue. */
    queue: z.number().int().min(0).max(100_000).default(0),
    /** The longest a call waits in the queue before it is refused. */
    queueTimeout: quotaDuration.default(5_000),
  })
  .strict()

const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/, 'expected a plain SQL identifier')

export const quotaConfigSchema = z
  .object({
    /** memory: this process only (stdio, one replica). redis / postgres: shared by every replica. */
    store: z.enum(['memory', 'redis', 'postgres']).default('memory'),
    /** redis://host:port/db. Held non-enumerable after load (it may carry a password). */
    redis: z.object({ url: z.string().min(1) }).strict().optional(),
    /** postgres:// URL of the database holding the quota tables, and the tables' name prefix. */
    postgres: z.object({ url: z.string().min(1), table: identifier.default('sqlwarden_quota') }).strict().optional(),
    /** Quotas every principal gets, whatever its roles; combined with a grant's to the strictest. */
    defaults: quotasSchema.optional(),
    /**
     * Shared stores: how long a concurrency lease outlives its last renewal (renewed every third of
     * it while the call runs). A replica that dies holds its principals' slots at most this long.
     */
    leaseTtl: quotaDuration.refine((ms) => ms >= 1_000 && ms <= 600_000, 'between 1s and 10m').default(30_000),
    /** Global concurrency per source (over every replica with a shared store), by source name. */
    sources: z.record(identifier, sourceConcurrencySchema).optional(),
  })
  .strict()
  .superRefine((q, ctx) => {
    if (q.store === 'redis' && q.redis === undefined) ctx.addIssue({ code: 'custom', message: 'store redis needs quotas.redis.url', path: ['redis'] })
    if (q.store === 'postgres' && q.postgres === undefined) {
      ctx.addIssue({ code: 'custom', message: 'store postgres needs quotas.postgres.url', path: ['postgres'] })
    }
  })

export type RateSpec = z.output<typeof rateSchema>
export type QuotaSpec = z.output<typeof quotasSchema>
export type QuotaConfig = z.output<typeof quotaConfigSchema>
export type SourceConcurrencySpec = z.output<typeof sourceConcurrencySchema>
