import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PrincipalCounter, SourceGate } from '../../../src/quota/concurrency-gate.js'
import type { Result } from '../../../src/util/result.js'

const unwrap = <T>(r: Result<T>): T => {
  assert.ok(r.ok, `expected ok, got ${r.ok ? '' : r.code}`)
  return r.value
}

test('source gate: maxConcurrency run, `queue` wait in FIFO order, one more is refused at once', async () => {
  const gate = new SourceGate(2, 2, 10_000)
  const a = unwrap(await gate.acquire())
  const b = unwrap(await gate.acquire())
  const order: string[] = []
  const c = Promise.resolve(gate.acquire()).then((r) => (order.push('c'), unwrap(r)))
  const d = Promise.resolve(gate.acquire()).then((r) => (order.push('d'), unwrap(r)))
  const e = await gate.acquire()
  assert.equal(e.ok, false)
  assert.equal(!e.ok && e.code, 'ERR_QUOTA_CONCURRENCY')
  assert.equal(!e.ok && e.subject, 'source_queue_full')
  assert.ok(!e.ok && typeof e.data?.retryAfterMs === 'number')
  assert.equal(gate.queued, 2)
  a()
  a() // idempotent: releasing twice frees one slot only
  const cr = await c
  assert.deepEqual(order, ['c'])
  assert.equal(gate.inFlight, 2)
  b()
  const dr = await d
  assert.deepEqual(order, ['c', 'd'])
  cr()
  dr()
  assert.equal(gate.inFlight, 0)
  assert.equal(gate.queued, 0)
})

test('source gate: a waiter past its deadline is refused and leaves the queue', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] })
  const gate = new SourceGate(1, 5, 500)
  const a = unwrap(await gate.acquire())
  const waiting = gate.acquire()
  t.mock.timers.tick(499)
  assert.equal(gate.queued, 1)
  t.mock.timers.tick(1)
  const r = await waiting
  assert.equal(!r.ok && r.code, 'ERR_QUOTA_CONCURRENCY')
  assert.equal(!r.ok && r.subject, 'source_queue_timeout')
  assert.equal(!r.ok && r.data?.retryAfterMs, 500)
  assert.equal(gate.queued, 0)
  a()
  assert.equal(gate.inFlight, 0)
})

test('source gate: an aborted waiter leaves the queue without a slot', async () => {
  const gate = new SourceGate(1, 5, 10_000)
  const a = unwrap(await gate.acquire())
  const ac = new AbortController()
  const waiting = gate.acquire(ac.signal)
  ac.abort()
  const r = await waiting
  assert.equal(!r.ok && r.code, 'ERR_EXEC_CANCELLED')
  a()
  assert.equal(gate.inFlight, 0)
})

test('source gate with no queue refuses the first call over the limit', async () => {
  const gate = new SourceGate(1, 0, 1_000)
  unwrap(await gate.acquire())
  const r = await gate.acquire()
  assert.equal(!r.ok && r.code, 'ERR_QUOTA_CONCURRENCY')
})

test('principal counter: exact limit, all or nothing over several scopes, idempotent release', () => {
  const counter = new PrincipalCounter()
  const slots = [
    { key: 'd:alice', limit: 3 },
    { key: 'g:shop:alice', limit: 2 },
  ]
  const r1 = unwrap(counter.acquire(slots))
  const r2 = unwrap(counter.acquire(slots))
  const r3 = counter.acquire(slots)
  assert.equal(!r3.ok && r3.code, 'ERR_QUOTA_CONCURRENCY')
  assert.equal(!r3.ok && r3.data?.retryAfterMs, 250)
  assert.equal(counter.inFlight('d:alice'), 2, 'the refused call took nothing')
  // Another scope of the same principal still has one slot under d:alice.
  unwrap(counter.acquire([{ key: 'd:alice', limit: 3 }]))
  r1()
  r1()
  assert.equal(counter.inFlight('g:shop:alice'), 1)
  r2()
  assert.equal(counter.inFlight('g:shop:alice'), 0)
})
