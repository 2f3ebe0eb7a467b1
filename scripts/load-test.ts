/**
 * `npm run load`: a load run, not a timed test (issue 5). Starts N replicas of the built CLI
 * (dist/cli/main.js) on loopback ports against the seeded bench table in the loopback PostgreSQL,
 * connects S MCP SDK Clients over Streamable HTTP round-robin across the replicas (each with its
 * own API key, so its own principal), and has every session make C point lookups by random primary
 * key, each waiting for the previous. Samples each replica's RSS from /proc every second, and prints
 * throughput, p50/p99 latency, errors by code and RSS per replica (first, last, peak, and the run
 * in tenths, to show whether it is flat).
 *
 *   npm run load -- [--calls 10000] [--sessions 32] [--replicas 2] [--store none|memory|redis|postgres]
 *                   [--rows 1000000] [--pool 16] [--quota-calls N]
 *
 *   --calls      calls per session (default 10,000: 32 × 10,000 = 320,000 calls)
 *   --store      the quota store passed to every replica as `quotas: { store }` (default none: no
 *                quotas). With a store, every principal gets generous quotas (1,000,000 calls per
 *                minute, 64 in flight), so the check runs on every call and refuses nothing;
 *                `--quota-calls N` lowers the per-principal rate to N calls per minute to see
 *                intended refusals (ERR_QUOTA_RATE) counted apart from errors.
 *   --rows       size of the bench table (default 1,000,000, reused when already seeded)
 *   --pool       PostgreSQL pool size per replica (default 16)
 *
 * Only loopback addresses are used: the replicas bind 127.0.0.1:0, Redis is 127.0.0.1:6379.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { hashApiKey } from '../src/auth/api-keys.js'
import { configSchema } from '../src/config/config-schema.js'
import { ADMIN_URL, BENCH_SCHEMA, benchReaderUrl, ensureBenchTable } from '../bench/bench-db.js'
import { fmt, percentile, prng } from '../bench/bench-stats.js'

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url))
const POINT_SQL = `SELECT id, name, amount, created_at FROM ${BENCH_SCHEMA}.items WHERE id = $1`
const REDIS_URL = 'redis://127.0.0.1:6379/0'
/** Codes that are the point of a quota, not a failure: counted, but not as errors. */
const INTENDED = new Set(['ERR_QUOTA_RATE', 'ERR_QUOTA_CONCURRENCY', 'ERR_QUOTA_ROWS', 'ERR_QUOTA_BYTES', 'ERR_QUOTA_DB_TIME'])
const log = (s: string) => process.stdout.write(`${s}\n`)

// The SDK's HTTP client adds an abort listener per request to a long-lived signal; Node warns past
// a threshold. That is the client's, not the server's: keep it quiet (as bench/run.ts does).
process.removeAllListeners('warning')
process.on('warning', (warning) => {
  if (warning.name !== 'MaxListenersExceededWarning') process.stderr.write(`${warning.name}: ${warning.message}\n`)
})

interface Options {
  readonly calls: number
  readonly sessions: number
  readonly replicas: number
  readonly store: 'none' | 'memory' | 'redis' | 'postgres'
  readonly rows: number
  readonly pool: number
  readonly quotaCalls: number | null
}

function parseOptions(argv: readonly string[]): Options {
  const known = new Set(['--calls', '--sessions', '--replicas', '--store', '--rows', '--pool', '--quota-calls'])
  const values = new Map<string, string>()
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i] ?? ''
    const value = argv[i + 1]
    if (!known.has(name) || value === undefined) usage(`unknown or incomplete option: ${name}`)
    values.set(name, value)
  }
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = values.get(name)
    if (raw === undefined) return fallback
    const n = Number(raw)
    if (!Number.isInteger(n) || n < min || n > max) usage(`${name} expects an integer from ${min} to ${max}`)
    return n
  }
  const store = values.get('--store') ?? 'none'
  if (store !== 'none' && store !== 'memory' && store !== 'redis' && store !== 'postgres') usage('--store expects none, memory, redis or postgres')
  return {
    calls: int('--calls', 10_000, 1, 10_000_000),
    sessions: int('--sessions', 32, 1, 1_000),
    replicas: int('--replicas', 2, 1, 16),
    store,
    rows: int('--rows', 1_000_000, 1_000, 10_000_000),
    pool: int('--pool', 16, 1, 200),
    quotaCalls: values.has('--quota-calls') ? int('--quota-calls', 0, 1, 100_000_000) : null,
  }
}

function usage(message: string): never {
  process.stderr.write(`load-test: ${message}\nusage: npm run load -- [--calls N] [--sessions N] [--replicas N] [--store none|memory|redis|postgres] [--rows N] [--pool N] [--quota-calls N]\n`)
  process.exit(2)
}

/** The quotas block for the replicas' config, or a refusal when this build has no `quotas` key. */
function quotasYaml(options: Options): string {
  if (options.store === 'none') return ''
  const shape = (configSchema as unknown as { shape?: Record<string, unknown> }).shape ?? {}
  if (!('quotas' in shape)) {
    usage(`--store ${options.store}: this build's config has no \`quotas\` key yet (the quota work is not merged); run without --store`)
  }
  const perMinute = options.quotaCalls ?? 1_000_000
  const backend =
    options.store === 'redis' ? `\n  redis: { url: ${REDIS_URL} }` : options.store === 'postgres' ? `\n  postgres: { url: ${ADMIN_URL} }` : ''
  return `quotas:\n  store: ${options.store}${backend}\n  defaults:\n    calls: { limit: ${perMinute}, window: 1m }\n    concurrency: 64\n`
}

interface Replica {
  readonly index: number
  readonly child: ChildProcess
  readonly pid: number
  readonly url: string
  readonly rss: number[]
  peakHwm: number
  stderr: () => string
}

async function startReplica(index: number, config: string): Promise<Replica> {
  const child = spawn(process.execPath, [CLI, '--config', config], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env } })
  let err = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`replica ${index} did not start:\n${err.slice(-2_000)}`)), 30_000)
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString()
      if (err.length > 200_000) err = err.slice(-100_000)
      const match = /"endpoint":"(http:[^"]+)"/.exec(err)
      if (match?.[1]) {
        clearTimeout(timer)
        resolve(match[1])
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`replica ${index} exited with ${code}:\n${err.slice(-2_000)}`))
    })
  })
  if (child.pid === undefined) throw new Error('no pid')
  return { index, child, pid: child.pid, url, rss: [], peakHwm: 0, stderr: () => err }
}

/** VmRSS and VmHWM (MiB) of a process from /proc. */
function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN)
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const quotas = quotasYaml(options)
  if (!existsSync(CLI)) usage('dist/cli/main.js is missing: run `npm run build` (npm run load does)')
  await ensureBenchTable(options.rows, log)

  // One API key (one principal) per session; every replica knows every key (stateless replicas).
  const keys = Array.from({ length: options.sessions }, (_, i) => ({ principal: `load-${i}`, key: `swk_${randomBytes(32).toString('hex')}` }))
  const keysYaml = keys.map((k) => `    - { principal: ${k.principal}, roles: [default], hash: "${hashApiKey(k.key)}" }`).join('\n')
  const dir = mkdtempSync(join(tmpdir(), 'sqlwarden-load-'))
  const config = join(dir, 'replica.yaml')
  writeFileSync(
    config,
    `sources:\n  bench:\n    kind: postgres\n    url: ${benchReaderUrl()}\n    poolSize: ${options.pool}\n    searchPath: [${BENCH_SCHEMA}]\n` +
      `http:\n  listen: 127.0.0.1:0\nauth:\n  apiKeys:\n${keysYaml}\n${quotas}log:\n  level: info\n`,
  )

  log(`\nsqlwarden load run — ${new Date().toISOString()} — node ${process.version}`)
  log(`machine: ${cpus().length} CPUs, load average ${loadavg().map((l) => fmt(l, 1)).join(' / ')} at start`)
  log(
    `${options.replicas} replicas × pool ${options.pool}, ${options.sessions} sessions × ${options.calls} calls = ${options.sessions * options.calls} calls, ` +
      `quota store: ${options.store}${options.quotaCalls === null ? '' : ` (${options.quotaCalls} calls/min per principal)`}`,
  )

  const replicas: Replica[] = []
  try {
    for (let i = 0; i < options.replicas; i += 1) replicas.push(await startReplica(i, config))
    log(`replicas: ${replicas.map((r) => `#${r.index} pid ${r.pid} ${r.url}`).join(', ')}`)

    const sample = () => {
      for (const r of replicas) {
        try {
          const m = memoryOf(r.pid)
          r.rss.push(m.rss)
          r.peakHwm = Math.max(r.peakHwm, m.hwm)
        } catch {
          r.rss.push(Number.NaN)
        }
      }
    }
    sample()
    const sampler = setInterval(sample, 1_000)

    const clients: Client[] = []
    for (let i = 0; i < options.sessions; i += 1) {
      const replica = replicas[i % replicas.length] as Replica
      const client = new Client({ name: `load-${i}`, version: '1.0.0' })
      await client.connect(
        new StreamableHTTPClientTransport(new URL(replica.url), { requestInit: { headers: { authorization: `Bearer ${keys[i]?.key ?? ''}` } } }),
      )
      clients.push(client)
    }

    const latencies = new Float64Array(options.sessions * options.calls)
    let filled = 0
    const codes = new Map<string, number>()
    const count = (code: string) => codes.set(code, (codes.get(code) ?? 0) + 1)
    const session = async (client: Client, seed: number, calls: number, record: boolean) => {
      const rand = prng(seed)
      for (let c = 0; c < calls; c += 1) {
        const id = 1 + Math.floor(rand() * options.rows)
        const t0 = performance.now()
        let code: string | null = null
        try {
          const r = (await client.callTool({ name: 'query', arguments: { sql: POINT_SQL, params: [id] } })) as {
            isError?: boolean
            _meta?: Record<string, { code?: string } | undefined>
          }
          if (r.isError) code = r._meta?.['sqlwarden/error']?.code ?? 'isError_without_code'
        } catch (error) {
          // A refusal before dispatch (HTTP 4xx/5xx with a JSON body) carries its code in the body.
          const message = String((error as Error).message)
          code = /"code":"(ERR_[A-Z_]+)"/.exec(message)?.[1] ?? `client:${(error as Error).name}:${message.slice(0, 60)}`
        }
        if (!record) continue
        latencies[filled++] = performance.now() - t0
        count(code ?? 'ok')
      }
    }

    // Warm-up (not counted): connections, caches, JIT.
    await Promise.all(clients.map((client, i) => session(client, 1_000 + i, Math.min(50, options.calls), false)))
    const rssAtStart = replicas.map((r) => memoryOf(r.pid).rss)
    const started = performance.now()
    const progress = setInterval(() => {
      const s = (performance.now() - started) / 1000
      process.stderr.write(`  ${filled} calls in ${fmt(s, 0)} s (${fmt(filled / s, 0)}/s)\n`)
    }, 30_000)
    await Promise.all(clients.map((client, i) => session(client, i + 1, options.calls, true)))
    const seconds = (performance.now() - started) / 1000
    clearInterval(progress)
    sample()
    clearInterval(sampler)
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)))

    const ms = Array.from(latencies.subarray(0, filled))
    const errors = [...codes].filter(([code]) => code !== 'ok' && !INTENDED.has(code))
    const intended = [...codes].filter(([code]) => INTENDED.has(code))
    log(`\n${filled} calls in ${fmt(seconds, 1)} s: ${fmt(filled / seconds, 0)} calls/s`)
    log(`latency per call: p50 ${fmt(percentile(ms, 50))} ms  p99 ${fmt(percentile(ms, 99))} ms  p99.9 ${fmt(percentile(ms, 99.9))} ms  max ${fmt(percentile(ms, 100))} ms`)
    log(`results: ${[...codes].map(([code, n]) => `${code} ${n}`).join(', ')}`)
    log(`errors (other than intended quota refusals): ${errors.length === 0 ? 'none' : errors.map(([c, n]) => `${c} ${n}`).join(', ')}`)
    if (intended.length > 0) log(`intended quota refusals: ${intended.map(([c, n]) => `${c} ${n}`).join(', ')}`)
    for (const r of replicas) {
      const samples = r.rss.filter((v) => Number.isFinite(v))
      const tenths = Array.from({ length: 11 }, (_, k) => samples[Math.min(samples.length - 1, Math.round((k / 10) * (samples.length - 1)))] ?? Number.NaN)
      log(
        `replica #${r.index} RSS MiB: first ${fmt(samples[0] ?? Number.NaN, 1)}, after warm-up ${fmt(rssAtStart[r.index] ?? Number.NaN, 1)}, ` +
          `last ${fmt(samples[samples.length - 1] ?? Number.NaN, 1)}, peak ${fmt(Math.max(...samples), 1)} (VmHWM ${fmt(r.peakHwm, 1)}), ${samples.length} samples`,
      )
      log(`  over the run (0%…100%): ${tenths.map((v) => fmt(v, 0)).join(' ')}`)
    }
    for (const r of replicas) {
      if (r.child.exitCode !== null) log(`replica #${r.index} exited during the run (${r.child.exitCode}):\n${r.stderr().slice(-2_000)}`)
    }
    process.exitCode = errors.length === 0 ? 0 : 1
  } finally {
    await Promise.all(
      replicas.map(async (r) => {
        if (r.child.exitCode !== null) return
        const exited = new Promise((resolve) => r.child.once('exit', resolve))
        r.child.kill('SIGTERM')
        await exited
      }),
    )
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`load-test failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exit(1)
})
