/**
 * The shared stores against real Redis and PostgreSQL on loopback: two store instances (as two
 * replicas would hold) share every bucket and budget, token buckets stay exact under concurrent
 * takes (atomic: a Lua script; a row-locking upsert), concurrency leases are shared, exact and
 * expire unless renewed, and a store that is killed fails closed and
 * serves again within 5 s of its return, without leaking connections.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { PostgresQuotaStore } from '../../../src/quota/postgres-store.js'
import { bucketOf } from '../../../src/quota/quota-plan.js'
import type { QuotaStore } from '../../../src/quota/quota-store.js'
import { RedisQuotaStore } from '../../../src/quota/redis-store.js'
import { dropQuotaStore, dropQuotaStoreSql, requirePostgres } from '../../helpers/postgres-env.js'
import { startPrivatePostgres, startPrivateRedis } from '../../helpers/private-stores.js'

const SHARED_REDIS = process.env.SQLWARDEN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const run = randomBytes(4).toString('hex')

async function exactUnderConcurrency(a: QuotaStore, b: QuotaStore): Promise<void> {
  const bucket = bucketOf(`exact-${run}`, { limit: 50, window: 3_600_000 })
  const verdicts = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).take([bucket], 1, 1)))
  const admitted = verdicts.filter((v) => v.ok).length
  // 50 per hour refills 0.014 tokens a second: nothing during this test.
  assert.equal(admitted, 50)
  const refused = verdicts.find((v) => !v.ok)
  assert.ok(refused !== undefined && refused.retryAfterMs > 0 && refused.retryAfterMs <= 72_000)
}

async function allOrNothing(a: QuotaStore, b: QuotaStore): Promise<void> {
  const wide = bucketOf(`wide-${run}`, { limit: 5, window: 3_600_000 })
  const narrow = bucketOf(`narrow-${run}`, { limit: 1, window: 3_600_000 })
  assert.equal((await a.take([wide, narrow], 1, 1)).ok, true)
  for (let i = 0; i < 5; i++) assert.equal((await b.take([wide, narrow], 1, 1)).ok, false)
  let left = 0
  for (let i = 0; i < 10; i++) if ((await a.take([wide], 1, 1)).ok) left++
  assert.equal(left, 4)
}

async function sharedBudgets(a: QuotaStore, b: QuotaStore): Promise<void> {
  const budget = { key: `rows-${run}`, limit: 100, windowMs: 60_000 }
  await a.charge([budget], [60])
  await b.charge([budget], [45])
  const [useA] = await a.used([budget])
  const [useB] = await b.used([budget])
  assert.equal(useA?.used, 105)
  assert.equal(useB?.used, 105)
  assert.ok((useA?.resetInMs ?? 0) > 55_000 && (useA?.resetInMs ?? 0) <= 60_000)
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function leasesOf(store: QuotaStore) {
  assert.ok(store.leases !== null, `${store.kind} shares concurrency`)
  return store.leases
}

/** Concurrency leases taken on one instance count on the other; exactly `limit` under a concurrent rush. */
async function sharedSlots(a: QuotaStore, b: QuotaStore): Promise<void> {
  const la = leasesOf(a)
  const lb = leasesOf(b)
  const slot = { key: `slot-${run}`, limit: 2 }
  assert.equal(await la.acquire([slot], 'l1', 10_000), true)
  assert.equal(await lb.acquire([slot], 'l2', 10_000), true)
  assert.equal(await la.acquire([slot], 'l3', 10_000), false, 'the limit holds across instances')
  assert.equal(await lb.acquire([slot], 'l3', 10_000), false)
  await lb.release({ lease: 'l1', keys: [slot.key] })
  assert.equal(await la.acquire([slot], 'l3', 10_000), true, 'a released slot is free on every instance')

  const rush = { key: `rush-${run}`, limit: 7 }
  const taken = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? la : lb).acquire([rush], `r${i}`, 10_000)))
  assert.equal(taken.filter(Boolean).length, 7, 'exactly the limit under 100 concurrent acquires')
}

async function slotsAllOrNothing(a: QuotaStore, b: QuotaStore): Promise<void> {
  const wide = { key: `swide-${run}`, limit: 5 }
  const narrow = { key: `snarrow-${run}`, limit: 1 }
  assert.equal(await leasesOf(a).acquire([wide, narrow], 'n1', 10_000), true)
  for (let i = 0; i < 3; i++) assert.equal(await leasesOf(b).acquire([wide, narrow], `n${i + 2}`, 10_000), false)
  let left = 0
  for (let i = 0; i < 10; i++) if (await leasesOf(b).acquire([wide], `w${i}`, 10_000)) left++
  assert.equal(left, 4, 'a refused acquire took nothing from the wide slot')
}

/** A lease nobody renews (its replica died) frees its slot after its TTL; renewed leases stay. */
async function leaseLifetime(a: QuotaStore, b: QuotaStore): Promise<void> {
  const dead = { key: `dead-${run}`, limit: 1 }
  assert.equal(await leasesOf(a).acquire([dead], 'gone', 400), true)
  assert.equal(await leasesOf(b).acquire([dead], 'next', 400), false)
  await sleep(550)
  assert.equal(await leasesOf(b).acquire([dead], 'next', 10_000), true, 'expired: the slot is free again')

  const live = { key: `live-${run}`, limit: 1 }
  const held = { lease: 'renewed', keys: [live.key] }
  assert.equal(await leasesOf(a).acquire([live], held.lease, 400), true)
  for (let i = 0; i < 5; i++) {
    await sleep(150)
    await leasesOf(a).renew([held], 400)
  }
  assert.equal(await leasesOf(b).acquire([live], 'other', 400), false, 'renewed past its first TTL: still held')

  const late = { key: `late-${run}`, limit: 1 }
  assert.equal(await leasesOf(a).acquire([late], 'late', 200), true)
  await sleep(350)
  await leasesOf(a).renew([{ lease: 'late', keys: [late.key] }], 10_000)
  assert.equal(await leasesOf(b).acquire([late], 'taker', 10_000), true, 'a renewal after expiry does not bring the lease back')
}

/** Calls a store until it answers again; returns how long that took. */
async function recovery(store: QuotaStore, key: string): Promise<number> {
  const started = Date.now()
  for (;;) {
    try {
      await store.take([bucketOf(key, { limit: 1_000, window: 60_000 })], 1, 1)
      return Date.now() - started
    } catch (error) {
      if (Date.now() - started > 15_000) throw new Error(`no recovery within 15 s: ${String(error)}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

describe('redis store', () => {
  const a = new RedisQuotaStore({ url: SHARED_REDIS, prefix: `swtest-${run}` })
  const b = new RedisQuotaStore({ url: SHARED_REDIS, prefix: `swtest-${run}` })
  after(async () => {
    await a.close()
    await b.close()
  })

  test('two instances share a bucket exactly under 200 concurrent takes', async () => {
    await recovery(a, 'warm')
    await recovery(b, 'warm')
    await exactUnderConcurrency(a, b)
  })
  test('several buckets: all or nothing', () => allOrNothing(a, b))
  test('budgets are shared', () => sharedBudgets(a, b))
  test('concurrency leases are shared, exact under a rush', () => sharedSlots(a, b))
  test('concurrency leases: all or nothing', () => slotsAllOrNothing(a, b))
  test('concurrency leases expire unless renewed', () => leaseLifetime(a, b))

  test('killed: refused fast (fail closed); restarted: served again within 5 s', async () => {
    const redis = await startPrivateRedis()
    const store = new RedisQuotaStore({ url: redis.url })
    try {
      await recovery(store, 'k')
      await redis.kill()
      for (let i = 0; i < 5; i++) {
        const t0 = Date.now()
        await assert.rejects(store.take([bucketOf('k', { limit: 1_000, window: 60_000 })], 1, 1))
        await assert.rejects(store.used([{ key: 'w', limit: 10, windowMs: 1_000 }]))
        await assert.rejects(leasesOf(store).acquire([{ key: 's', limit: 1 }], 'x', 1_000))
        assert.ok(Date.now() - t0 < 2_500, 'a dead store answers quickly, never hangs')
      }
      await redis.start()
      const ms = await recovery(store, 'k')
      assert.ok(ms < 5_000, `recovered in ${ms} ms`)
    } finally {
      await store.close()
      await redis.kill()
    }
  })
})

describe('postgres store', async () => {
  const url = await requirePostgres()
  const table = `sw_quota_test_${run}`
  const a = new PostgresQuotaStore({ url, table })
  const b = new PostgresQuotaStore({ url, table })
  after(async () => {
    await a.close()
    await b.close()
    await dropQuotaStore(url, table)
  })

  test('two instances share a bucket exactly under 200 concurrent takes', () => exactUnderConcurrency(a, b))
  test('several buckets: all or nothing', () => allOrNothing(a, b))
  test('budgets are shared', () => sharedBudgets(a, b))
  test('concurrency leases are shared, exact under a rush', () => sharedSlots(a, b))
  test('concurrency leases: all or nothing', () => slotsAllOrNothing(a, b))
  test('concurrency leases expire unless renewed', () => leaseLifetime(a, b))

  test('tables that vanish (dropped, or lost with a crashed database) are created again: one call fails, the next works', async () => {
    const gone = `sw_quota_gone_${run}`
    const store = new PostgresQuotaStore({ url, table: gone })
    const admin = new pg.Client({ connectionString: url })
    await admin.connect()
    try {
      const bucket = bucketOf('k', { limit: 1_000, window: 60_000 })
      assert.equal((await store.take([bucket], 1, 1)).ok, true)
      await admin.query(dropQuotaStoreSql(gone))
      await assert.rejects(store.take([bucket], 1, 1), 'fails closed while they are missing')
      assert.equal((await store.take([bucket], 1, 1)).ok, true)
      assert.equal(await leasesOf(store).acquire([{ key: 's', limit: 1 }], 'l', 1_000), true)
    } finally {
      await store.close()
      await admin.query(dropQuotaStoreSql(gone))
      await admin.end()
    }
  })

  test('a private database killed and restarted: fail closed, back within 5 s, no leaked connections', async () => {
    const db = await startPrivatePostgres()
    const admin = async (sql: string) => {
      const c = new pg.Client({ connectionString: db.url })
      await c.connect()
      try {
        return (await c.query(sql)).rows
      } finally {
        await c.end()
      }
    }
    const count = async () => Number((await admin(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'sqlwarden-quota'`))[0]?.n)
    const store = new PostgresQuotaStore({ url: db.url, table: 'q' })
    try {
      await recovery(store, 'k')
      assert.ok((await count()) <= 4)
      await db.kill()
      for (let i = 0; i < 5; i++) {
        const t0 = Date.now()
        await assert.rejects(store.take([bucketOf('k', { limit: 1_000, window: 60_000 })], 1, 1))
        assert.ok(Date.now() - t0 < 2_500, 'a dead store answers quickly, never hangs')
      }
      await db.start()
      const ms = await recovery(store, 'k')
      assert.ok(ms < 5_000, `recovered in ${ms} ms`)
      await Promise.all(Array.from({ length: 50 }, () => store.take([bucketOf('k2', { limit: 1_000, window: 60_000 })], 1, 1)))
      assert.ok((await count()) <= 4, 'the pool stays within its size')
      await store.close()
      // A backend leaves pg_stat_activity shortly after its client hangs up: wait up to 5 s.
      let left = await count()
      for (let i = 0; i < 50 && left > 0; i += 1) {
        await new Promise((r) => setTimeout(r, 100))
        left = await count()
      }
      assert.equal(left, 0, 'pg_stat_activity back to baseline after close')
    } finally {
      await store.close().catch(() => undefined)
      await db.destroy()
    }
  })
})
