/**
 * Replicas share quotas (issue 5): three HTTP replicas of the real CLI on loopback ports, pointed at
 * one store (a private Redis, then a private PostgreSQL), driven by several clients at once. The
 * calls admitted across all replicas stay within the global limit (token buckets in the store are
 * atomic: the tolerance is the refill during the run, here under one token), and so do a
 * principal's calls in flight (concurrency leases in the store). Then the store is
 * killed mid-run and restarted: no replica crashes, calls are refused while it is down (fail
 * closed: HTTP 503 at the edge or ERR_QUOTA_STORE_UNAVAILABLE as a tool result), served again
 * within 5 s of its return, the store's connections go back to baseline, and every call has its
 * audit record.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { hashApiKey } from '../../src/auth/api-keys.js'
import { startHttpCli, writeTempConfig, type HttpServerProcess } from '../helpers/cli-process.js'
import { ADMIN_URL } from '../helpers/e2e-fixture.js'
import { startPrivatePostgres, startPrivateRedis, type PrivatePostgres, type PrivateRedis } from '../helpers/private-stores.js'

const PRINCIPALS = ['alice', 'bob', 'carol', 'dave'] as const
/** A principal of the `slow` role: at most 2 calls in flight, over every replica together. */
const SLOW = 'erin'
const GATE_TABLE = 'sqlwarden_quota_e2e_gate'
const keyOf = (p: string) => `swk_quota_e2e_${p}_0123456789abcdef0123456789`
const LIMIT = 30
const ROLE = 'sqlwarden_quota_e2e'
/** The replicas' source: `SELECT 1` is all they run. */
const SOURCE_YAML = 'sources:\n  shop: { kind: postgres, url: "${E2E_DB_URL}" }\n'

/**
 * A least-privilege login role of our own, created if missing. Not the shared e2e fixture: its
 * setup drops and recreates a schema other e2e files use while they run.
 */
async function setupRole(): Promise<string> {
  const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3_000 })
  await admin.connect()
  try {
    await admin.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${ROLE}') THEN
          CREATE ROLE ${ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
        END IF;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
      END $$`)
    await admin.query(`DO $$ BEGIN
        CREATE TABLE IF NOT EXISTS public.${GATE_TABLE} (x int);
      EXCEPTION WHEN duplicate_table OR unique_violation THEN NULL;
      END $$`)
    await admin.query(`GRANT SELECT ON public.${GATE_TABLE} TO ${ROLE}`)
  } finally {
    await admin.end()
  }
  const url = new URL(ADMIN_URL)
  url.username = ROLE
  url.password = ''
  return url.toString()
}

function configFor(storeYaml: string, auditFile: string): string {
  return writeTempConfig(
    [
      SOURCE_YAML.trimEnd(),
      'auth:',
      '  apiKeys:',
      ...PRINCIPALS.map((p) => `    - { principal: ${p}, roles: [analyst], hash: "${hashApiKey(keyOf(p))}" }`),
      `    - { principal: ${SLOW}, roles: [slow], hash: "${hashApiKey(keyOf(SLOW))}" }`,
      'policy:',
      '  version: 1',
      '  roles:',
      '    analyst: { sources: { shop: { tools: [query] } } }',
      '    slow: { sources: { shop: { tools: [query], quotas: { concurrency: 2 } } } }',
      'quotas:',
      storeYaml,
      '  defaults:',
      `    calls: { limit: ${LIMIT}, window: 1h }`,
      `audit: { sink: file, file: ${auditFile} }`,
      '',
    ].join('\n'),
  )
}

interface Answer {
  readonly status: number
  readonly retryAfter: string | null
  /** null: the call succeeded. */
  readonly code: string | null
}

let nextId = 1
async function callQuery(url: string, principal: string, sql = 'SELECT 1 AS one'): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${keyOf(principal)}`,
      'mcp-protocol-version': '2025-06-18',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method: 'tools/call', params: { name: 'query', arguments: { sql } } }),
  })
  const text = await res.text()
  if (res.status !== 200) {
    const body = JSON.parse(text) as { error?: { code?: string } }
    return { status: res.status, retryAfter: res.headers.get('retry-after'), code: body.error?.code ?? `HTTP_${res.status}` }
  }
  const json = text.startsWith('{') ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? '{}')
  const msg = JSON.parse(json) as { result?: { isError?: boolean; _meta?: Record<string, { code?: string }> } }
  const code = msg.result?.isError === true ? (msg.result._meta?.['sqlwarden/error']?.code ?? 'ERR_UNKNOWN') : msg.result ? null : 'ERR_NO_RESULT'
  return { status: res.status, retryAfter: null, code }
}

function auditedCalls(files: readonly string[]): number {
  let n = 0
  for (const f of files) {
    if (!existsSync(f)) continue
    for (const line of readFileSync(f, 'utf8').split('\n')) if (line.includes('"kind":"call"')) n++
  }
  return n
}

async function startReplicas(storeYaml: string): Promise<{ replicas: HttpServerProcess[]; audits: string[] }> {
  const dbUrl = await setupRole()
  const dir = mkdtempSync(join(tmpdir(), 'sw-quota-replicas-'))
  const audits = [0, 1, 2].map((i) => join(dir, `audit-${i}.jsonl`))
  const replicas = await Promise.all(
    audits.map((a) => startHttpCli(['--config', configFor(storeYaml, a), '--http', '127.0.0.1:0'], { E2E_DB_URL: dbUrl })),
  )
  return { replicas, audits }
}

/** Several clients per principal, each spreading its calls over every replica. */
async function drive(replicas: readonly HttpServerProcess[], principals: readonly string[], perClient: number, clientsPer = 3): Promise<Answer[]> {
  const answers: Answer[] = []
  await Promise.all(
    principals.flatMap((p) =>
      Array.from({ length: clientsPer }, async (_, c) => {
        for (let i = 0; i < perClient; i++) answers.push({ ...(await callQuery(replicas[(c + i) % replicas.length]?.url ?? '', p)), principal: p } as Answer)
      }),
    ),
  )
  return answers
}

async function faultRun(
  replicas: readonly HttpServerProcess[],
  audits: readonly string[],
  kill: () => Promise<void>,
  restart: () => Promise<void>,
): Promise<void> {
  let sent = 0
  const callAll = async (p: string) => {
    const answers = await Promise.all(replicas.map((r) => callQuery(r.url, p)))
    sent += answers.length
    return answers
  }
  const baseline = auditedCalls(audits)
  assert.ok((await callAll('carol')).every((a) => a.code === null))
  await kill()
  for (let i = 0; i < 3; i++) {
    for (const a of await callAll('dave')) {
      assert.ok(a.code === 'ERR_QUOTA_STORE_UNAVAILABLE', `fail closed while down: ${JSON.stringify(a)}`)
      if (a.status === 503) assert.equal(a.retryAfter, '1')
    }
  }
  for (const r of replicas) assert.equal((await fetch(`${r.base}/healthz`)).status, 200, 'no replica crashed')
  await restart()
  const back = Date.now()
  for (;;) {
    const answers = await callAll('dave')
    if (answers.every((a) => a.code === null)) break
    assert.ok(Date.now() - back < 5_000, `served again within 5 s of the store's return: ${JSON.stringify(answers)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  for (const r of replicas) assert.equal(r.child.exitCode, null, 'no replica exited')
  assert.equal(auditedCalls(audits) - baseline, sent, 'every call has its audit record')
}

/**
 * Six calls of one principal (concurrency 2), two on each replica, all waiting on a table lock
 * held by an admin: two are admitted over all replicas together and the other four are refused
 * at once, while the two still wait. Counted per replica (before leases), six would be admitted.
 */
async function concurrencyAcrossReplicas(replicas: readonly HttpServerProcess[]): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  try {
    await admin.query('BEGIN')
    await admin.query(`LOCK TABLE public.${GATE_TABLE} IN ACCESS EXCLUSIVE MODE`)
    const settled: Answer[] = []
    const calls = replicas.flatMap((r) =>
      [0, 1].map(async () => {
        const a = await callQuery(r.url, SLOW, `SELECT count(*) AS n FROM public.${GATE_TABLE}`)
        settled.push(a)
        return a
      }),
    )
    const deadline = Date.now() + 4_000
    while (settled.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25))
    assert.equal(settled.length, 4, 'four calls answered while two wait on the lock')
    assert.ok(settled.every((a) => a.code === 'ERR_QUOTA_CONCURRENCY'), JSON.stringify(settled))
    await admin.query('COMMIT')
    const answers = await Promise.all(calls)
    assert.equal(answers.filter((a) => a.code === null).length, 2, 'two admitted across three replicas')
    // Their slots are back: the principal is served again on every replica.
    for (const r of replicas) assert.equal((await callQuery(r.url, SLOW)).code, null)
  } finally {
    await admin.query('ROLLBACK').catch(() => undefined)
    await admin.end()
  }
}

function assertWithinLimit(answers: readonly (Answer & { principal?: string })[], principals: readonly string[]): void {
  for (const p of principals) {
    const mine = answers.filter((a) => a.principal === p)
    const admitted = mine.filter((a) => a.code === null).length
    const refused = mine.filter((a) => a.code !== null)
    // LIMIT per hour refills 0.008 tokens per second: the tolerance over this run is 0 calls.
    assert.equal(admitted, LIMIT, `${p}: ${admitted} admitted across all replicas`)
    assert.ok(refused.every((a) => a.code === 'ERR_QUOTA_RATE'), JSON.stringify(refused.find((a) => a.code !== 'ERR_QUOTA_RATE')))
  }
  const edge = answers.filter((a) => a.status === 429)
  assert.ok(edge.length > 0, 'refusals before dispatch are HTTP 429')
  for (const a of edge) assert.ok(Number(a.retryAfter) >= 1, 'with Retry-After in seconds')
}

describe('three replicas sharing a private Redis', () => {
  let redis: PrivateRedis
  let run: { replicas: HttpServerProcess[]; audits: string[] }
  before(async () => {
    redis = await startPrivateRedis()
    run = await startReplicas(`  store: redis\n  redis: { url: "${redis.url}" }`)
  })
  after(async () => {
    await Promise.all(run?.replicas.map((r) => r.stop()) ?? [])
    await redis?.kill()
  })

  test('admitted calls across all replicas stay within the global limit', async () => {
    const answers = await drive(run.replicas, ['alice', 'bob'], 20)
    assertWithinLimit(answers, ['alice', 'bob'])
  })

  test('per-principal concurrency holds across all replicas', () => concurrencyAcrossReplicas(run.replicas))

  test('Redis killed and restarted mid-run: fail closed, back within 5 s, every call audited', async () => {
    await faultRun(run.replicas, run.audits, () => redis.kill(), () => redis.start())
  })
})

describe('three replicas sharing a private PostgreSQL', () => {
  let db: PrivatePostgres
  let run: { replicas: HttpServerProcess[]; audits: string[] }
  const storeConnections = async () => {
    const c = new pg.Client({ connectionString: db.url })
    await c.connect()
    try {
      return Number((await c.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'sqlwarden-quota'`)).rows[0]?.n)
    } finally {
      await c.end()
    }
  }
  before(async () => {
    db = await startPrivatePostgres()
    run = await startReplicas(`  store: postgres\n  postgres: { url: "${db.url}" }`)
  })
  after(async () => {
    await Promise.all(run?.replicas.map((r) => r.stop()) ?? [])
    await db?.destroy()
  })

  test('admitted calls across all replicas stay within the global limit', async () => {
    const answers = await drive(run.replicas, ['alice', 'bob'], 20)
    assertWithinLimit(answers, ['alice', 'bob'])
    assert.ok((await storeConnections()) <= 3 * 4, 'each replica holds at most its pool of 4')
  })

  test('per-principal concurrency holds across all replicas', () => concurrencyAcrossReplicas(run.replicas))

  test('the database killed and restarted mid-run: fail closed, back within 5 s, every call audited, no leaked connections', async () => {
    await faultRun(run.replicas, run.audits, () => db.kill(), () => db.start())
    await Promise.all(run.replicas.map((r) => r.stop()))
    for (let i = 0; i < 50 && (await storeConnections()) > 0; i++) await new Promise((r) => setTimeout(r, 100))
    assert.equal(await storeConnections(), 0, 'pg_stat_activity back to baseline once the replicas stop')
  })
})
