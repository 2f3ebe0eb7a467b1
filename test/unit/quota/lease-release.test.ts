/**
 * Concurrency leases whose release fails (the shared store went away while the call ran) are
 * released again on the renewal ticks once the store answers, and forgotten once they would have
 * expired anyway. The store here is a recording fake of the lease API: what is tested is the
 * engine's bookkeeping (the real stores' lease semantics are tested against Redis and PostgreSQL in
 * test/integration/quota).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createPrincipal } from '../../../src/pipeline/request-context.js'
import { MemoryQuotaStore } from '../../../src/quota/memory-store.js'
import { QuotaEngine } from '../../../src/quota/quota-engine.js'
import type { HeldLease, QuotaStore, Slot, SlotLeases } from '../../../src/quota/quota-store.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

class FlakyLeases implements SlotLeases {
  readonly live = new Map<string, readonly string[]>()
  down = false
  releaseAttempts = 0

  acquire(slots: readonly Slot[], lease: string): Promise<boolean> {
    if (this.down) return Promise.reject(new Error('store down'))
    for (const s of slots) if ([...this.live.values()].filter((keys) => keys.includes(s.key)).length >= s.limit) return Promise.resolve(false)
    this.live.set(lease, slots.map((s) => s.key))
    return Promise.resolve(true)
  }

  renew(): Promise<void> {
    return this.down ? Promise.reject(new Error('store down')) : Promise.resolve()
  }

  release(held: HeldLease): Promise<void> {
    this.releaseAttempts++
    if (this.down) return Promise.reject(new Error('store down'))
    this.live.delete(held.lease)
    return Promise.resolve()
  }
}

function engineWith(leases: FlakyLeases, leaseTtlMs: number): QuotaEngine {
  const memory = new MemoryQuotaStore()
  const store: QuotaStore = {
    kind: 'redis',
    leases,
    take: (b, n, c) => memory.take(b, n, c),
    used: (b) => memory.used(b),
    charge: (b, a) => memory.charge(b, a),
    close: () => memory.close(),
  }
  return new QuotaEngine({ store, defaults: { concurrency: 1 }, leaseTtlMs })
}

const alice = createPrincipal('alice', ['analyst'])
const admit = (engine: QuotaEngine) => engine.admit({ principal: alice, source: 'main', tool: 'query', grantQuotas: [] })

/** An engine (lease TTL 300 ms) whose one call released its lease while the store was down. */
async function releasedWhileDown(): Promise<{ leases: FlakyLeases; engine: QuotaEngine }> {
  const leases = new FlakyLeases()
  const engine = engineWith(leases, 300)
  const first = await admit(engine)
  assert.ok(first.ok)
  leases.down = true
  await first.value.release()
  assert.equal(engine.leasesUnreleased, 1, 'kept for a retry')
  assert.equal(leases.live.size, 1, 'still taken in the store')
  return { leases, engine }
}

test('a release that failed while the store was down is retried once it answers', async () => {
  const { leases, engine } = await releasedWhileDown()
  try {
    leases.down = false
    await sleep(250)
    assert.equal(leases.live.size, 0, 'released on a renewal tick')
    assert.equal(engine.leasesUnreleased, 0)
    const next = await admit(engine)
    assert.ok(next.ok, 'the principal is served at once, not after the lease TTL')
    await next.value.release()
  } finally {
    await engine.close()
  }
})

test('a release that keeps failing is given up once the lease would have expired', async () => {
  const { leases, engine } = await releasedWhileDown()
  try {
    await sleep(550)
    assert.equal(engine.leasesUnreleased, 0, 'forgotten after the TTL: the store expires it by itself')
    const attempts = leases.releaseAttempts
    assert.ok(attempts >= 2, `retried (${attempts} attempts)`)
    await sleep(250)
    assert.equal(leases.releaseAttempts, attempts, 'and no longer retried')
  } finally {
    await engine.close()
  }
})
