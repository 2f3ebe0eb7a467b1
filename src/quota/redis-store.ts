/**
 * The Redis store: quotas shared by every replica pointed at the same Redis. Token buckets run as
 * one Lua script over every key of a call (atomic, all or nothing, one round trip), timed by Redis's
 * own clock (`TIME`), so replicas with skewed clocks still agree. Budgets are rate-limiter-flexible
 * fixed windows (`RateLimiterRedis`: whole seconds, rounded up). Concurrency slots are leases in a
 * sorted set per slot, scored by their expiry on Redis's clock.
 *
 * Fail closed: no offline queue, short connect and command timeouts, so a call never waits on a
 * Redis that is gone: it is refused (ERR_QUOTA_STORE_UNAVAILABLE), and served again as soon as the
 * client has reconnected (it retries every 250 ms at most).
 */
import { Redis } from 'ioredis'
import { RateLimiterRedis } from 'rate-limiter-flexible'
import type { Logger } from '../log/logger.js'
import type { Budget, BudgetUse, Bucket, QuotaStore, SlotLeases, TakeVerdict } from './quota-store.js'

const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local need = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local levels = {}
local wait = 0
for i = 1, #KEYS do
  local cap = tonumber(ARGV[1 + 2 * i])
  local per = tonumber(ARGV[2 + 2 * i])
  local v = redis.call('HMGET', KEYS[i], 't', 'at')
  local tokens = cap
  if v[1] then tokens = math.min(cap, tonumber(v[1]) + math.max(0, now - tonumber(v[2])) * per) end
  levels[i] = tokens
  if tokens < need - 1e-9 then
    local w = math.max(1, math.ceil((need - tokens) / per - 1e-9))
    if w > wait then wait = w end
  end
end
if wait > 0 then return {0, wait} end
if cost > 0 then
  for i = 1, #KEYS do
    local cap = tonumber(ARGV[1 + 2 * i])
    local per = tonumber(ARGV[2 + 2 * i])
    local tokens = math.max(0, levels[i] - cost)
    redis.call('HSET', KEYS[i], 't', tostring(tokens), 'at', tostring(now))
    redis.call('PEXPIRE', KEYS[i], math.ceil((cap - tokens) / per) + 1000)
  end
end
return {1, 0}
`

/**
 * Concurrency leases: one sorted set per slot, member = lease id, score = expiry (Redis's clock).
 * Expired leases are dropped before counting; all slots or none are taken.
 * KEYS: slot keys. ARGV: ttl ms, lease id, then each slot's limit.
 */
const ACQUIRE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[2 + i]) then return 0 end
end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now + ttl, ARGV[2])
  if redis.call('PTTL', KEYS[i]) < ttl + 1000 then redis.call('PEXPIRE', KEYS[i], ttl + 1000) end
end
return 1
`

/** KEYS: slot keys. ARGV: ttl ms, then the lease id held under each key. Only live leases are extended (XX). */
const RENEW_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 1, #KEYS do
  local expiry = redis.call('ZSCORE', KEYS[i], ARGV[1 + i])
  if expiry and tonumber(expiry) > now then
    redis.call('ZADD', KEYS[i], 'XX', now + ttl, ARGV[1 + i])
    if redis.call('PTTL', KEYS[i]) < ttl + 1000 then redis.call('PEXPIRE', KEYS[i], ttl + 1000) end
  end
end
return 1
`

/** KEYS: slot keys. ARGV: the lease id. */
const RELEASE_SCRIPT = `
for i = 1, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
return 1
`

export interface RedisStoreOptions {
  readonly url: string
  /** Key prefix (tests use one per run). */
  readonly prefix?: string
  readonly logger?: Logger
}

type TakeClient = Redis & {
  swTake(numKeys: number, ...args: (string | number)[]): Promise<[number, number]>
  swAcquire(numKeys: number, ...args: (string | number)[]): Promise<number>
  swRenew(numKeys: number, ...args: (string | number)[]): Promise<number>
  swRelease(numKeys: number, ...args: (string | number)[]): Promise<number>
}

export class RedisQuotaStore implements QuotaStore {
  readonly kind = 'redis' as const
  private readonly client: TakeClient
  private readonly prefix: string
  private readonly limiters = new Map<string, RateLimiterRedis>()

  constructor(options: RedisStoreOptions) {
    this.prefix = options.prefix ?? 'sqlwarden'
    const client = new Redis(options.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 1_000,
      commandTimeout: 1_000,
      retryStrategy: (times) => Math.min(50 * times, 250),
      // A read-only replica would refuse the script's writes: treat that like an outage.
      reconnectOnError: () => false,
    })
    let down = false
    client.on('error', (error: Error) => {
      if (!down) options.logger?.warn({ err: { name: error.name } }, 'quota store (redis) unreachable: calls are refused until it returns')
      down = true
    })
    client.on('ready', () => {
      if (down) options.logger?.info('quota store (redis) reachable again')
      down = false
    })
    client.defineCommand('swTake', { lua: TAKE_SCRIPT })
    client.defineCommand('swAcquire', { lua: ACQUIRE_SCRIPT })
    client.defineCommand('swRenew', { lua: RENEW_SCRIPT })
    client.defineCommand('swRelease', { lua: RELEASE_SCRIPT })
    this.client = client as TakeClient
  }

  readonly leases: SlotLeases = {
    acquire: async (slots, lease, ttlMs) => {
      if (slots.length === 0) return true
      const args: (string | number)[] = slots.map((s) => this.slotKey(s.key))
      args.push(Math.ceil(ttlMs), lease)
      for (const s of slots) args.push(s.limit)
      return (await this.client.swAcquire(slots.length, ...args)) === 1
    },
    renew: async (held, ttlMs) => {
      const keys = held.flatMap((h) => h.keys.map((k) => this.slotKey(k)))
      if (keys.length === 0) return
      await this.client.swRenew(keys.length, ...keys, Math.ceil(ttlMs), ...held.flatMap((h) => h.keys.map(() => h.lease)))
    },
    release: async (held) => {
      if (held.keys.length === 0) return
      await this.client.swRelease(held.keys.length, ...held.keys.map((k) => this.slotKey(k)), held.lease)
    },
  }

  private slotKey(key: string): string {
    return `${this.prefix}:cs:${key}`
  }

  async take(buckets: readonly Bucket[], need: number, cost: number): Promise<TakeVerdict> {
    if (buckets.length === 0) return { ok: true, retryAfterMs: 0 }
    const args: (string | number)[] = buckets.map((b) => `${this.prefix}:tb:${b.key}`)
    args.push(need, cost)
    for (const b of buckets) args.push(b.capacity, b.perMs)
    const [allowed, wait] = await this.client.swTake(buckets.length, ...args)
    return { ok: allowed === 1, retryAfterMs: Number(wait) }
  }

  async used(budgets: readonly Budget[]): Promise<readonly BudgetUse[]> {
    return Promise.all(
      budgets.map(async (b) => {
        const res = await this.limiter(b).get(b.key)
        return res === null ? { used: 0, resetInMs: 0 } : { used: res.consumedPoints, resetInMs: Math.max(0, res.msBeforeNext) }
      }),
    )
  }

  async charge(budgets: readonly Budget[], amounts: readonly number[]): Promise<void> {
    await Promise.all(budgets.map((b, i) => ((amounts[i] ?? 0) > 0 ? this.limiter(b).penalty(b.key, Math.ceil(amounts[i] ?? 0)) : undefined)))
  }

  async close(): Promise<void> {
    this.client.disconnect(false)
  }

  private limiter(b: Budget): RateLimiterRedis {
    const seconds = Math.max(1, Math.ceil(b.windowMs / 1000))
    const id = `${b.limit}/${seconds}`
    let limiter = this.limiters.get(id)
    if (limiter === undefined) {
      limiter = new RateLimiterRedis({
        storeClient: this.client,
        points: b.limit,
        duration: seconds,
        keyPrefix: `${this.prefix}:bw`,
        rejectIfRedisNotReady: true,
      })
      this.limiters.set(id, limiter)
    }
    return limiter
  }
}
