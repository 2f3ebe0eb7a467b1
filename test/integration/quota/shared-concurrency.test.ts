/**
 * Per-principal concurrency across replicas (issue 5): two quota engines, as two replicas hold,
 * over one shared store (real Redis, then real PostgreSQL). The principal's `concurrency` counts the
 * calls in flight on every replica together; a call that outlives the lease TTL keeps its slot
 * (renewed); a replica that dies without releasing frees its slots within the TTL; a store that
 * cannot answer refuses the call (fail closed) and leaks no local slot. The source's global
 * concurrency (`quotas.sources`) holds over the replicas too, with its queue and deadline.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createPrincipal } from '../../../src/pipeline/request-context.js'
import { QuotaEngine, type Admission } from '../../../src/quota/quota-engine.js'
import { PostgresQuotaStore } from '../../../src/quota/postgres-store.js'
import type { QuotaStore } from '../../../src/quota/quota-store.js'
import { RedisQuotaStore } from '../../../src/quota/redis-store.js'
import type { Result } from '../../../src/util/result.js'
import { dropQuotaStore, requirePostgres } from '../../helpers/postgres-env.js'

const SHARED_REDIS = process.env.SQLWARDEN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const run = randomBytes(4).toString('hex')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Waits until a store answers (a Redis client refuses commands until it has connected). */
async function ready(store: QuotaStore): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await store.used([{ key: `warm-${run}`, limit: 1, windowMs: 1_000 }])
      return
    } catch (error) {
      if (i > 100) throw error
      await sleep(50)
    }
  }
}

function engines(store: () => QuotaStore, leaseTtlMs: number): [QuotaEngine, QuotaEngine] {
  const make = () => new QuotaEngine({ store: store(), defaults: { concurrency: 2 }, leaseTtlMs })
  return [make(), make()]
}

function admit(engine: QuotaEngine, principal: string): Promise<Result<Admission>> {
  return engine.admit({ principal: createPrincipal(principal, ['analyst']), source: 'shop', tool: 'query', grantQuotas: [] })
}

function admitted(r: Result<Admission>): Admission {
  assert.ok(r.ok, `expected admission, got ${r.ok ? '' : r.code}`)
  return r.value
}

function refusedForConcurrency(r: Result<Admission>): void {
  assert.equal(r.ok, false, 'expected a refusal')
  assert.equal(!r.ok && r.code, 'ERR_QUOTA_CONCURRENCY')
  assert.equal(!r.ok && r.subject, 'principal')
  assert.ok(!r.ok && Number((r.data as { retryAfterMs?: number } | undefined)?.retryAfterMs) > 0, 'with a retry hint')
}

async function limitAcrossReplicas(a: QuotaEngine, b: QuotaEngine): Promise<void> {
  const p = `alice-${run}`
  const first = admitted(await admit(a, p))
  const second = admitted(await admit(b, p))
  refusedForConcurrency(await admit(a, p))
  refusedForConcurrency(await admit(b, p))
  // Another principal is not affected.
  await admitted(await admit(a, `bob-${run}`)).release()
  await first.release()
  assert.equal(a.leasesHeld, 0)
  const third = admitted(await admit(b, p))
  refusedForConcurrency(await admit(a, p))
  await second.release()
  await third.release()
  // Released twice: idempotent, nothing more is freed.
  await third.release()
  const rush = await Promise.all(Array.from({ length: 20 }, (_, i) => admit(i % 2 === 0 ? a : b, p)))
  assert.equal(rush.filter((r) => r.ok).length, 2, 'exactly the limit under a concurrent rush on both replicas')
  for (const r of rush) if (r.ok) await r.value.release()
  assert.equal(a.leasesHeld + b.leasesHeld, 0)
}

async function longCallKeepsItsSlot(a: QuotaEngine, b: QuotaEngine, ttl: number): Promise<void> {
  const p = `carol-${run}`
  const held = [admitted(await admit(a, p)), admitted(await admit(a, p))]
  for (let t = 0; t < 4 * ttl; t += ttl / 2) {
    await sleep(ttl / 2)
    refusedForConcurrency(await admit(b, p))
  }
  for (const h of held) await h.release()
  await admitted(await admit(b, p)).release()
}

async function deadReplicaFreesSlots(store: () => QuotaStore, ttl: number): Promise<void> {
  const p = `dave-${run}`
  const dying = new QuotaEngine({ store: store(), defaults: { concurrency: 1 }, leaseTtlMs: ttl })
  const survivor = new QuotaEngine({ store: store(), defaults: { concurrency: 1 }, leaseTtlMs: ttl })
  try {
    await Promise.all([dying.store, survivor.store].map(ready))
    admitted(await admit(dying, p))
    // The replica dies: it stops renewing and never releases.
    await dying.close()
    const died = Date.now()
    refusedForConcurrency(await admit(survivor, p))
    let back: Admission | null = null
    while (back === null) {
      const r = await admit(survivor, p)
      if (r.ok) back = r.value
      else {
        assert.ok(Date.now() - died < ttl + 1_000, 'the dead replica’s slot comes free within its lease TTL')
        await sleep(50)
      }
    }
    assert.ok(Date.now() - died >= ttl - 100, 'and not before: a live lease is never taken over')
    await back.release()
  } finally {
    await survivor.close()
  }
}

function sourceEngines(store: () => QuotaStore, queue: number): [QuotaEngine, QuotaEngine] {
  const make = () => new QuotaEngine({ store: store(), sources: { shop: { maxConcurrency: 2, queue, queueTimeout: 800 } } })
  return [make(), make()]
}

/** The source's `maxConcurrency` counts every principal's calls on every replica. */
async function sourceLimitAcrossReplicas(store: () => QuotaStore): Promise<void> {
  const [a, b] = sourceEngines(store, 0)
  const [qa, qb] = sourceEngines(store, 4)
  await Promise.all([a, b, qa, qb].map((e) => ready(e.store)))
  try {
    const first = admitted(await admit(a, `p1-${run}`))
    const second = admitted(await admit(b, `p2-${run}`))
    const full = await admit(a, `p3-${run}`)
    assert.equal(!full.ok && full.subject, 'source_queue_full', 'no queue: refused at once although this replica runs one call')
    await first.release()
    await admitted(await admit(a, `p3-${run}`)).release()
    await second.release()

    // With a queue: a call waits for a slot freed on another replica, and is refused at its deadline.
    const x = admitted(await admit(qa, `q1-${run}`))
    const y = admitted(await admit(qa, `q2-${run}`))
    const t0 = performance.now()
    const waiting = admit(qb, `q3-${run}`)
    await sleep(200)
    await x.release()
    const served = admitted(await waiting)
    const waited = performance.now() - t0
    assert.ok(waited >= 190 && waited < 700, `served once the other replica released (${Math.round(waited)} ms)`)
    const t1 = performance.now()
    const late = await admit(qb, `q4-${run}`)
    assert.equal(!late.ok && late.subject, 'source_queue_timeout')
    assert.ok(performance.now() - t1 >= 790, 'after its queueTimeout')
    // A waiting call whose caller gives up leaves the wait at once.
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 100)
    const t2 = performance.now()
    const gaveUp = await qb.admit({ principal: createPrincipal(`q5-${run}`, ['analyst']), source: 'shop', tool: 'query', grantQuotas: [], signal: controller.signal })
    assert.equal(!gaveUp.ok && gaveUp.code, 'ERR_EXEC_CANCELLED')
    assert.ok(performance.now() - t2 < 400, 'cancelled while waiting, not at the deadline')
    await y.release()
    await served.release()
  } finally {
    for (const e of [a, b, qa, qb]) await e.close()
  }
}

describe('concurrency across replicas, shared Redis', () => {
  const TTL = 600
  const stores: QuotaStore[] = []
  const store = () => {
    const s = new RedisQuotaStore({ url: SHARED_REDIS, prefix: `swtest-cc-${run}` })
    stores.push(s)
    return s
  }
  const [a, b] = engines(store, TTL)
  after(async () => {
    await Promise.all(stores.map((s) => s.close()))
  })
  test('the stores connect', async () => {
    await Promise.all(stores.map(ready))
  })

  test('the limit counts the calls in flight on every replica', () => limitAcrossReplicas(a, b))
  test('a call longer than the lease TTL keeps its slot (renewed)', () => longCallKeepsItsSlot(a, b, TTL))
  test('a replica that dies frees its slots within the TTL', () => deadReplicaFreesSlots(store, TTL))
  test('the source’s global concurrency holds over every replica (queue and deadline)', () => sourceLimitAcrossReplicas(store))
  test('a store that cannot answer refuses (fail closed) and the local slot comes back', async () => {
    const dead = new QuotaEngine({ store: new RedisQuotaStore({ url: 'redis://127.0.0.1:1' }), defaults: { concurrency: 1 } })
    try {
      for (let i = 0; i < 3; i++) {
        const r = await admit(dead, `erin-${run}`)
        assert.equal(!r.ok && r.code, 'ERR_QUOTA_STORE_UNAVAILABLE', 'not ERR_QUOTA_CONCURRENCY: the local slot was given back')
      }
    } finally {
      await dead.close()
    }
  })
})

describe('concurrency across replicas, shared PostgreSQL', async () => {
  const TTL = 600
  const url = await requirePostgres()
  const table = `sw_quota_cc_${run}`
  const stores: QuotaStore[] = []
  const store = () => {
    const s = new PostgresQuotaStore({ url, table })
    stores.push(s)
    return s
  }
  const [a, b] = engines(store, TTL)
  after(async () => {
    await Promise.all(stores.map((s) => s.close()))
    await dropQuotaStore(url, table)
  })

  test('the limit counts the calls in flight on every replica', () => limitAcrossReplicas(a, b))
  test('a call longer than the lease TTL keeps its slot (renewed)', () => longCallKeepsItsSlot(a, b, TTL))
  test('a replica that dies frees its slots within the TTL', () => deadReplicaFreesSlots(store, TTL))
  test('the source’s global concurrency holds over every replica (queue and deadline)', () => sourceLimitAcrossReplicas(store))
})
