import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryQuotaStore } from '../../../src/quota/memory-store.js'
import { bucketOf } from '../../../src/quota/quota-plan.js'

/** A fake monotonic clock. */
function clock(start = 1_000) {
  let now = start
  return { now: () => now, advance: (ms: number) => void (now += ms) }
}

test('token bucket: exactly `limit` calls at once, then one per window/limit, with the exact wait', async () => {
  const c = clock()
  const store = new MemoryQuotaStore(c.now)
  const b = bucketOf('k', { limit: 20, window: 60_000 })
  for (let i = 0; i < 20; i++) assert.equal((await store.take([b], 1, 1)).ok, true, `call ${i + 1}`)
  const refused = await store.take([b], 1, 1)
  assert.deepEqual(refused, { ok: false, retryAfterMs: 3_000 })
  c.advance(2_999)
  assert.deepEqual(await store.take([b], 1, 1), { ok: false, retryAfterMs: 1 })
  c.advance(1)
  assert.equal((await store.take([b], 1, 1)).ok, true)
  assert.equal((await store.take([b], 1, 1)).ok, false)
})

test('token bucket: burst sets the capacity; the sustained rate stays limit per window', async () => {
  const c = clock()
  const store = new MemoryQuotaStore(c.now)
  const b = bucketOf('k', { limit: 10, window: 1_000, burst: 3 })
  for (let i = 0; i < 3; i++) assert.equal((await store.take([b], 1, 1)).ok, true)
  assert.deepEqual(await store.take([b], 1, 1), { ok: false, retryAfterMs: 100 })
  // A long pause refills to the burst, not beyond.
  c.advance(60_000)
  for (let i = 0; i < 3; i++) assert.equal((await store.take([b], 1, 1)).ok, true)
  assert.equal((await store.take([b], 1, 1)).ok, false)
})

test('several buckets: all or nothing (a refusal by one takes nothing from the others)', async () => {
  const c = clock()
  const store = new MemoryQuotaStore(c.now)
  const wide = bucketOf('wide', { limit: 5, window: 1_000 })
  const narrow = bucketOf('narrow', { limit: 1, window: 1_000 })
  assert.equal((await store.take([wide, narrow], 1, 1)).ok, true)
  for (let i = 0; i < 10; i++) assert.equal((await store.take([wide, narrow], 1, 1)).ok, false)
  // `wide` lost only the one token the admitted call took.
  for (let i = 0; i < 4; i++) assert.equal((await store.take([wide], 1, 1)).ok, true)
  assert.equal((await store.take([wide], 1, 1)).ok, false)
})

test('peek (need 1, cost 0) takes nothing', async () => {
  const store = new MemoryQuotaStore(clock().now)
  const b = bucketOf('k', { limit: 1, window: 1_000 })
  for (let i = 0; i < 5; i++) assert.equal((await store.take([b], 1, 0)).ok, true)
  assert.equal((await store.take([b], 1, 1)).ok, true)
  assert.equal((await store.take([b], 1, 0)).ok, false)
})

test('budget windows: used counts within the window and resets exactly at its end', async () => {
  const c = clock()
  const store = new MemoryQuotaStore(c.now)
  const budget = { key: 'rows', limit: 100, windowMs: 10_000 }
  assert.deepEqual(await store.used([budget]), [{ used: 0, resetInMs: 0 }])
  await store.charge([budget], [60])
  c.advance(4_000)
  await store.charge([budget], [40])
  assert.deepEqual(await store.used([budget]), [{ used: 100, resetInMs: 6_000 }])
  c.advance(5_999)
  assert.deepEqual(await store.used([budget]), [{ used: 100, resetInMs: 1 }])
  c.advance(1)
  assert.deepEqual(await store.used([budget]), [{ used: 0, resetInMs: 0 }])
})

test('memory stays bounded: full buckets and closed windows are forgotten', async () => {
  const c = clock()
  const store = new MemoryQuotaStore(c.now)
  for (let i = 0; i < 5_000; i++) {
    await store.take([bucketOf(`p${i}`, { limit: 10, window: 1_000 })], 1, 1)
    await store.charge([{ key: `w${i}`, limit: 10, windowMs: 1_000 }], [1])
  }
  c.advance(2_000)
  for (let i = 0; i < 5_000; i++) await store.take([bucketOf('again', { limit: 1_000_000, window: 1_000 })], 1, 1)
  assert.ok(store.size < 100, `size ${store.size}`)
})
