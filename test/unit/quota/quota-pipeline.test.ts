/**
 * The quota stage through the real pipeline (fake driver, memory store, fake clock): every limit,
 * one by one, at its exact boundary; its place in the order (after phase A, before analysis and
 * execution); slots released always; fail closed on a store error; `policy explain` untouched.
 */
import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import { explainToolCall } from '../../../src/pipeline/pipeline.js'
import { createPrincipal, createRequestContext } from '../../../src/pipeline/request-context.js'
import type { QuotaStore } from '../../../src/quota/quota-store.js'
import { loadPostgresParser } from '../../../src/sql/parser/postgres-parser.js'
import { codeOf, harness } from './quota-pipeline-harness.js'

before(() => loadPostgresParser())

function fakeClock() {
  let now = 0
  return { now: () => now, advance: (ms: number) => void (now += ms) }
}

const retryOf = (o: { ok: boolean }) => (o as { data?: { retryAfterMs?: number } }).data?.retryAfterMs

test('calls per window (defaults): exactly `limit`, then ERR_QUOTA_RATE with retryAfterMs; served again after it', async () => {
  const c = fakeClock()
  const h = harness({ quotas: { defaults: { calls: { limit: 20, window: '1m' } } }, now: c.now })
  for (let i = 0; i < 20; i++) assert.equal(codeOf(await h.call('alice')), 'ok', `call ${i + 1}`)
  const refused = await h.call('alice')
  assert.equal(codeOf(refused), 'ERR_QUOTA_RATE')
  assert.equal(retryOf(refused), 3_000)
  // Another principal has its own bucket.
  assert.equal(codeOf(await h.call('bob')), 'ok')
  c.advance(3_000)
  assert.equal(codeOf(await h.call('alice')), 'ok')
})

test('the quota stage runs after phase A and before analysis: nothing is parsed or run once refused', async () => {
  const h = harness({ quotas: { defaults: { calls: { limit: 1, window: '1h' } } } })
  assert.equal(codeOf(await h.call('alice')), 'ok')
  h.driverCalls.length = 0
  // Unparseable SQL: the quota answers first (the parser never sees it).
  assert.equal(codeOf(await h.call('alice', { sql: 'SELEC 1' })), 'ERR_QUOTA_RATE')
  assert.deepEqual(h.driverCalls, [])
  // A policy refusal comes first and takes no token (phase A precedes quotas).
  const denied = harness({
    policy: { version: 1, roles: { other: { sources: { '*': {} } } } },
    quotas: { defaults: { calls: { limit: 1, window: '1h' } } },
  })
  assert.equal(codeOf(await denied.call('alice')), 'ERR_POLICY_DENIED')
  assert.equal(codeOf(await denied.call('alice')), 'ERR_POLICY_DENIED')
})

test('per tool: a tool bucket limits that tool only', async () => {
  const h = harness({ quotas: { defaults: { tools: { list_tables: { limit: 2, window: '1h' } } } } })
  assert.equal(codeOf(await h.call('alice', {}, 'list_tables')), 'ok')
  assert.equal(codeOf(await h.call('alice', {}, 'list_tables')), 'ok')
  assert.equal(codeOf(await h.call('alice', {}, 'list_tables')), 'ERR_QUOTA_RATE')
  for (let i = 0; i < 5; i++) assert.equal(codeOf(await h.call('alice')), 'ok')
})

test('a grant\'s quotas and the defaults combine to the strictest; several roles each apply', async () => {
  const policy = {
    version: 1,
    principals: { carol: ['tight'] },
    roles: {
      default: { sources: { '*': { quotas: { calls: { limit: 5, window: '1h' } } } } },
      tight: { sources: { main: { quotas: { calls: { limit: 2, window: '1h' } } } } },
    },
  }
  const h = harness({ policy, quotas: { defaults: { calls: { limit: 3, window: '1h' } } } })
  // alice: grant 5, defaults 3 → 3.
  for (let i = 0; i < 3; i++) assert.equal(codeOf(await h.call('alice')), 'ok')
  assert.equal(codeOf(await h.call('alice')), 'ERR_QUOTA_RATE')
  // carol has both roles: 2 (tight) wins over 5 and 3.
  for (let i = 0; i < 2; i++) assert.equal(codeOf(await h.call('carol')), 'ok')
  assert.equal(codeOf(await h.call('carol')), 'ERR_QUOTA_RATE')
})

test('rows per window: a call gets at most what is left (truncated), the next is refused until the window ends', async () => {
  const c = fakeClock()
  const h = harness({ quotas: { defaults: { rows: { limit: 10, window: '1m' } } }, now: c.now })
  h.rowsPerRead = 4
  assert.equal(codeOf(await h.call('alice')), 'ok') // 4
  assert.equal(codeOf(await h.call('alice')), 'ok') // 8
  const capped = await h.call('alice') // 2 left
  assert.ok(capped.ok)
  assert.equal((capped.output as { row_count: number }).row_count, 2)
  assert.equal((capped.output as { truncated: boolean }).truncated, true)
  c.advance(1_000)
  const refused = await h.call('alice')
  assert.equal(codeOf(refused), 'ERR_QUOTA_ROWS')
  assert.equal(retryOf(refused), 59_000)
  h.driverCalls.length = 0
  assert.equal(codeOf(await h.call('alice')), 'ERR_QUOTA_ROWS')
  assert.deepEqual(h.driverCalls, [], 'a refused call never reaches the driver')
  c.advance(59_000)
  assert.equal(codeOf(await h.call('alice')), 'ok')
})

test('bytes per window: charged by the rows returned, refused once used up', async () => {
  const h = harness({ quotas: { defaults: { bytes: { limit: 20, window: '1h' } } } })
  h.rowsPerRead = 3 // rows [[0],[1],[2]] → 13 bytes of JSON
  assert.equal(codeOf(await h.call('alice')), 'ok')
  assert.equal(codeOf(await h.call('alice')), 'ok')
  const refused = await h.call('alice')
  assert.equal(codeOf(refused), 'ERR_QUOTA_BYTES')
  assert.ok((retryOf(refused) ?? 0) > 0)
})

test('database time per window: the measured duration is charged; refused once used up', async () => {
  const h = harness({ quotas: { defaults: { dbTime: { limit: '50ms', window: '1h' } } } })
  let release!: () => void
  h.hold = new Promise((r) => (release = r))
  const slow = h.call('alice')
  await new Promise((r) => setTimeout(r, 70))
  release()
  assert.equal(codeOf(await slow), 'ok')
  h.hold = null
  const refused = await h.call('alice')
  assert.equal(codeOf(refused), 'ERR_QUOTA_DB_TIME')
  assert.equal(codeOf(await h.call('bob')), 'ok')
})

test('concurrency per principal: refused at once above it; slots come back after success, refusal and exceptions', async () => {
  const h = harness({ quotas: { defaults: { concurrency: 2 } } })
  let release!: () => void
  h.hold = new Promise((r) => (release = r))
  const a = h.call('alice')
  const b = h.call('alice')
  await new Promise((r) => setImmediate(r))
  const third = await h.call('alice')
  assert.equal(codeOf(third), 'ERR_QUOTA_CONCURRENCY')
  assert.equal(retryOf(third), 250)
  // Another principal has its own slots.
  const bob = h.call('bob')
  release()
  assert.equal(codeOf(await bob), 'ok')
  assert.equal(codeOf(await a), 'ok')
  assert.equal(codeOf(await b), 'ok')
  h.hold = null
  // A refusal after the quota stage (bad SQL) and a driver exception both give the slot back.
  for (let i = 0; i < 3; i++) assert.equal(codeOf(await h.call('alice', { sql: 'SELEC 1' })), 'ERR_SQL_PARSE')
  h.throwOnRead = true
  for (let i = 0; i < 3; i++) assert.equal(codeOf(await h.call('alice')), 'ERR_INTERNAL')
  h.throwOnRead = false
  const both = await Promise.all([h.call('alice'), h.call('alice')])
  assert.deepEqual(both.map(codeOf), ['ok', 'ok'])
})

test('global concurrency per source: queue, FIFO, full queue refused at once, every slot released', async () => {
  const h = harness({ quotas: { sources: { main: { maxConcurrency: 2, queue: 2, queueTimeout: '5s' } } } })
  let release!: () => void
  h.hold = new Promise((r) => (release = r))
  const running = [h.call('a'), h.call('b'), h.call('c'), h.call('d')]
  await new Promise((r) => setTimeout(r, 10))
  const gate = h.engine.gate('main')
  assert.equal(gate?.inFlight, 2)
  assert.equal(gate?.queued, 2)
  const full = await h.call('e')
  assert.equal(codeOf(full), 'ERR_QUOTA_CONCURRENCY')
  assert.ok((retryOf(full) ?? 0) > 0)
  release()
  assert.deepEqual((await Promise.all(running)).map(codeOf), ['ok', 'ok', 'ok', 'ok'])
  assert.equal(gate?.inFlight, 0)
  assert.equal(gate?.queued, 0)
})

test('a queued call past queueTimeout is refused with ERR_QUOTA_CONCURRENCY', async () => {
  const h = harness({ quotas: { sources: { main: { maxConcurrency: 1, queue: 5, queueTimeout: '30ms' } } } })
  let release!: () => void
  h.hold = new Promise((r) => (release = r))
  const first = h.call('a')
  const waited = await h.call('b')
  assert.equal(codeOf(waited), 'ERR_QUOTA_CONCURRENCY')
  assert.equal((waited as { subject?: string }).subject, 'source_queue_timeout')
  release()
  assert.equal(codeOf(await first), 'ok')
})

test('fairness: a flooding principal holds at most its share; the other is never refused', async () => {
  const h = harness({
    quotas: { defaults: { concurrency: 2 }, sources: { main: { maxConcurrency: 3, queue: 4, queueTimeout: '5s' } } },
  })
  h.hold = new Promise((r) => setTimeout(r, 30))
  const flood = Array.from({ length: 40 }, () => h.call('flood'))
  const bob = Array.from({ length: 5 }, async (_, i) => {
    await new Promise((r) => setTimeout(r, i * 3))
    return h.call('bob')
  })
  // bob's 5 calls arrive while the flood is at its peak: at most 2 of his are in flight or waiting
  // at once (his own share), so only his share can refuse him; the flood cannot.
  const floodCodes = (await Promise.all(flood)).map(codeOf)
  const bobCodes = (await Promise.all(bob)).map(codeOf)
  assert.equal(floodCodes.filter((c) => c === 'ok').length, 2, 'the flood got exactly its share')
  assert.ok(floodCodes.every((c) => c === 'ok' || c === 'ERR_QUOTA_CONCURRENCY'))
  assert.ok(bobCodes.filter((c) => c === 'ok').length >= 2, `bob: ${bobCodes.join(',')}`)
  const bobRefusals = bobCodes.filter((c) => c !== 'ok')
  assert.ok(bobRefusals.every((c) => c === 'ERR_QUOTA_CONCURRENCY'))
})

test('a store that fails denies the call (ERR_QUOTA_STORE_UNAVAILABLE) before analysis, and releases its slot', async () => {
  let down = true
  const broken: QuotaStore = {
    kind: 'redis',
    leases: null,
    take: async () => {
      if (down) throw new Error('connection refused')
      return { ok: true, retryAfterMs: 0 }
    },
    used: async (b) => b.map(() => ({ used: 0, resetInMs: 0 })),
    charge: async () => undefined,
    close: async () => undefined,
  }
  const h = harness({ store: broken, quotas: { defaults: { calls: { limit: 5, window: '1m' }, concurrency: 1 } } })
  const refused = await h.call('alice', { sql: 'SELEC 1' })
  assert.equal(codeOf(refused), 'ERR_QUOTA_STORE_UNAVAILABLE')
  assert.equal(retryOf(refused), 1_000)
  assert.deepEqual(h.driverCalls, [])
  down = false
  assert.equal(codeOf(await h.call('alice')), 'ok', 'served again as soon as the store answers (and the slot came back)')
})

test('a read whose usage cannot be charged is withheld (fail closed)', async () => {
  const store: QuotaStore = {
    kind: 'redis',
    leases: null,
    take: async () => ({ ok: true, retryAfterMs: 0 }),
    used: async (b) => b.map(() => ({ used: 0, resetInMs: 0 })),
    charge: async () => {
      throw new Error('gone')
    },
    close: async () => undefined,
  }
  const h = harness({ store, quotas: { defaults: { rows: { limit: 100, window: '1m' } } } })
  assert.equal(codeOf(await h.call('alice')), 'ERR_QUOTA_STORE_UNAVAILABLE')
})

test('policy explain has no quota side effects', async () => {
  const h = harness({ quotas: { defaults: { calls: { limit: 1, window: '1h' }, concurrency: 1 } } })
  const ctx = createRequestContext({ principal: createPrincipal('alice', ['default']), transport: 'stdio' })
  for (let i = 0; i < 5; i++) assert.equal((await explainToolCall(h.deps, { name: 'query', args: { sql: 'SELECT 1' }, ctx })).ok, true)
  assert.equal(codeOf(await h.call('alice')), 'ok')
  assert.equal(codeOf(await h.call('alice')), 'ERR_QUOTA_RATE')
})
