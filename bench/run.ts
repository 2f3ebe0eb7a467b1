/**
 * `npm run bench`: sqlwarden against a raw pg.Pool baseline measured in the same run, interleaved,
 * on a seeded 1M-row table in the loopback PostgreSQL. Prints medians and p99 as ratios to the
 * baseline, server CPU per call read from /proc, peak RSS, cold start and analysis cost.
 *
 *   npm run bench                 everything (about 3 minutes)
 *   npm run bench -- --quick      fewer rounds, for a smoke run
 *   npm run bench -- --only stdio,http        only these scenarios (scan, stdio, http, cold, analysis)
 *   npm run bench -- --server-node-args "--cpu-prof --cpu-prof-dir=/tmp/prof"   flags for every server process
 *   npm run bench -- --peers      also measure the reference server and DBHub (installed from npm
 *                                 into $SQLWARDEN_BENCH_PEERS_DIR or the temp dir on first use)
 *
 * Scenarios: scan, stdio, http, compare (the same lookup through the SDK floor, sqlwarden and, with
 * --peers, the peers, interleaved with the baseline), cold, analysis.
 */
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { analyzeSql } from '../src/sql/analyze-sql.js'
import { loadPostgresParser } from '../src/sql/parser/postgres-parser.js'
import { ADMIN_URL, BENCH_ROLE, BENCH_SCHEMA, benchReaderUrl, ensureBenchTable } from './bench-db.js'
import { compareHttpServers, connectHttpClient, spawnListening, compareServers, dbhubHttp, ensurePeers, floorServer, httpFloorServer, stdioFloorServer, peerServers, startStdioServer, type ComparedServer, type StartedServer } from './compare-servers.js'
import { burst, warmUntilSteady, cpuMs, cpuSplitMs, fmt, peakRssMiB, percentile, prng, type Caller } from './bench-stats.js'

const quick = process.argv.includes('--quick')
const peers = process.argv.includes('--peers')
function option(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i === -1 ? undefined : process.argv[i + 1]
}
const only = option('--only')?.split(',')
const runs = (scenario: string): boolean => only === undefined || only.includes(scenario)
/** Extra node flags for the server processes (profiling); split on spaces. */
const serverNodeArgs = (option('--server-node-args') ?? '').split(' ').filter((a) => a !== '')

// The SDK's HTTP client transport adds an abort listener per request to a long-lived signal and
// Node warns once per request past 1,500; that is the client's, not the server's, so keep it quiet.
process.removeAllListeners('warning')
process.on('warning', (warning) => {
  if (warning.name !== 'MaxListenersExceededWarning') process.stderr.write(`${warning.name}: ${warning.message}\n`)
})
const ROWS = 1_000_000
/** Pool size of the floor's and sqlwarden's servers in the compare scenario. */
const COMPARE_POOL = 12
/**
 * Before a 32-in-flight measurement, each server is driven at 32 in flight in windows of this many
 * calls until its CPU per call stops falling, at most WARM_WINDOWS windows (warmUntilSteady).
 */
const WARM_WINDOW = 1000
const WARM_WINDOWS = 15
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url))
const POINT_SQL = `SELECT id, name, amount, created_at FROM ${BENCH_SCHEMA}.items WHERE id = $1`
const log = (s: string) => process.stdout.write(`${s}\n`)

async function main(): Promise<void> {
  await ensureBenchTable(ROWS, log)
  const url = benchReaderUrl()
  const config = join(mkdtempSync(join(tmpdir(), 'sqlwarden-bench-')), 'bench.yaml')
  writeFileSync(config, `sources:\n  bench:\n    kind: postgres\n    url: ${url}\n    poolSize: 32\n    searchPath: [${BENCH_SCHEMA}]\nlog:\n  level: info\n`)

  const pool = new pg.Pool({ connectionString: url, max: 32 })
  const baseline: Caller = async (id) => {
    await pool.query(POINT_SQL, [id])
  }
  const rand = prng(42)
  const nextId = () => 1 + Math.floor(rand() * ROWS)

  log(`\nsqlwarden benchmark — ${new Date().toISOString()} — node ${process.version}, ${quick ? 'quick' : 'full'} run`)
  log('baseline: pg.Pool.query in the bench process, same SQL and role, interleaved with sqlwarden')
  // Other processes share the CPUs and move every number; the load says how much this run was disturbed.
  log(`machine: ${cpus().length} CPUs, load average ${loadavg().map((l) => fmt(l, 1)).join(' / ')} (1 / 5 / 15 min) at start\n`)

  if (runs('scan')) {
    // The capped scan of the 1M-row table, on a fresh server so its peak RSS is this scenario's.
    const fresh = await startStdio(config)
    const scanMs: number[] = []
    let scan: { structuredContent?: { row_count?: number; truncated?: boolean } } = {}
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now()
      scan = (await fresh.client.callTool({ name: 'query', arguments: { sql: `SELECT * FROM ${BENCH_SCHEMA}.items` } })) as typeof scan
      scanMs.push(performance.now() - t0)
    }
    log(`SELECT * FROM the 1M-row table over stdio: ${scan.structuredContent?.row_count} rows, truncated=${scan.structuredContent?.truncated}, p50 ${fmt(percentile(scanMs, 50), 1)} ms (target < 100 ms)`)
    log(`  server peak RSS (fresh server, 5 capped scans): ${fmt(peakRssMiB(fresh.pid), 1)} MiB (target < 150 MiB)`)
    await fresh.close()
  }

  if (runs('stdio')) {
    const stdio = await startStdio(config)
    const viaStdio: Caller = async (id) => {
      const r = (await stdio.client.callTool({ name: 'query', arguments: { sql: POINT_SQL, params: [id] } })) as { isError?: boolean }
      if (r.isError) throw new Error('query failed')
    }
    await warm([baseline, viaStdio], nextId)
    // Steady state first, for concurrency 1 too (as in the compare scenario): V8 is still compiling
    // the server's hot paths for its first thousands of calls, and a server serves far more.
    const w = await warmUntilSteady(viaStdio, stdio.pid, nextId, WARM_WINDOW, quick ? 3 : WARM_WINDOWS)
    const c1 = await latencyInterleaved(baseline, viaStdio, nextId, quick ? 3 : 10, 300)
    log(`point lookup by primary key, stdio, warmed up first at 32 in flight (${w.calls} calls, server CPU per call ${fmt(w.firstMs, 3)} ms in the first ${WARM_WINDOW}, ${fmt(w.lastMs, 3)} ms in the last)`)
    log(`point lookup by primary key, stdio, concurrency 1 (${c1.n} calls each):`)
    log(`  baseline p50 ${fmt(c1.base50 * 1000, 0)} µs  p99 ${fmt(c1.base99 * 1000, 0)} µs`)
    log(`  sqlwarden p50 ${fmt(c1.sw50 * 1000, 0)} µs  p99 ${fmt(c1.sw99 * 1000, 0)} µs`)
    log(`  ratio p50 ${fmt(c1.sw50 / c1.base50)}×   p99 ${fmt(c1.sw99 / c1.base99)}×   (target p50 ≤ 2.0×)`)
    log(`  p50 ratio of each round's adjacent pair: median ${fmt(c1.pairMedian)}×, ${fmt(c1.pairMin)}–${fmt(c1.pairMax)}× over ${quick ? 3 : 10} rounds`)
    const t32 = await throughputInterleaved(baseline, viaStdio, nextId, 32, quick ? 2 : 4, quick ? 2000 : 3000, stdio.pid)
    log(`point lookup, stdio, 32 in flight:`)
    log(`  baseline ${fmt(t32.baseRate, 0)} calls/s, sqlwarden ${fmt(t32.swRate, 0)} calls/s, ratio ${fmt(t32.swRate / t32.baseRate)}×   (target ≥ 0.5×)`)
    log(`  sqlwarden p50 ${fmt(t32.sw50, 2)} ms  p99 ${fmt(t32.sw99, 2)} ms; server CPU per call ${fmt(t32.cpuPerCall, 3)} ms (${fmt(t32.cpuSystemPerCall, 3)} in the kernel)   (target ≤ 0.30 ms)`)
    log(`  other CPU per call, baseline / sqlwarden: ${t32.side}`)
    log(`  server peak RSS after the stdio load: ${fmt(peakRssMiB(stdio.pid), 1)} MiB`)

    await stdio.close()
  }

  if (runs('http')) {
    const http = await startHttp(config)
    const viaHttp: Caller = async (id) => {
      // http.client, read at each call: renew() replaces it after the warm-up.
      const r = (await http.client.callTool({ name: 'query', arguments: { sql: POINT_SQL, params: [id] } })) as { isError?: boolean }
      if (r.isError) throw new Error('query failed')
    }
    await warm([viaHttp], nextId)
    const w = await warmUntilSteady(viaHttp, http.pid, nextId, WARM_WINDOW, quick ? 3 : WARM_WINDOWS)
    await http.renew?.()
    const h32 = await throughputInterleaved(baseline, viaHttp, nextId, 32, quick ? 2 : 3, quick ? 2000 : 3000, http.pid)
    log(`point lookup, HTTP, 32 in flight (after warming up: ${w.calls} calls, server CPU per call ${fmt(w.firstMs, 3)} ms in the first ${WARM_WINDOW}, ${fmt(w.lastMs, 3)} ms in the last):`)
    log(`  sqlwarden ${fmt(h32.swRate, 0)} calls/s (${fmt(h32.swRate / h32.baseRate)}× baseline), p50 ${fmt(h32.sw50)} ms, p99 ${fmt(h32.sw99)} ms`)
    log(`  server CPU per call ${fmt(h32.cpuPerCall, 3)} ms (${fmt(h32.cpuSystemPerCall, 3)} in the kernel)   (target ≤ 0.6 ms); peak RSS ${fmt(peakRssMiB(http.pid), 1)} MiB`)
    log(`  other CPU per call, baseline / sqlwarden: ${h32.side}`)
    await http.close()
  }

  if (runs('compare')) {
    const peersDir = peers ? ensurePeers(log) : null
    // Every server keeps its pool open while the others run: the two floors' and sqlwarden's pools
    // are COMPARE_POOL here (the peers keep their own 10), so all of them and the baseline's 32 fit
    // PostgreSQL's default 100 connections.
    const compareConfig = join(dirname(config), 'compare.yaml')
    writeFileSync(compareConfig, readFileSync(config, 'utf8').replace('poolSize: 32', `poolSize: ${COMPARE_POOL}`))
    await compareServers({
      title: `\nthe point lookup through each server over stdio, same run, interleaved with the baseline (server pools of ${COMPARE_POOL})${peers ? '' : '; --peers adds the reference server and DBHub'}:`,
      baseline,
      servers: [
        stdioFloorServer(url, POINT_SQL, COMPARE_POOL),
        floorServer(url, POINT_SQL, COMPARE_POOL),
        viaSqlwarden(() => startStdio(compareConfig), 'sqlwarden'),
        ...(peersDir === null ? [] : peerServers(peersDir, url, POINT_SQL)),
      ],
      nextId,
      rounds: quick ? 2 : 6,
      perRound: 250,
      throughputRounds: quick ? 1 : 3,
      ms: quick ? 2000 : 3000,
      warmWindow: WARM_WINDOW,
      warmWindows: quick ? 3 : WARM_WINDOWS,
      log,
    })
    const [floorPort, dbhubPort] = (await freePorts(2)) as [number, number]
    await compareHttpServers({
      title: '\nthe point lookup over HTTP, 32 in flight, same run, interleaved:',
      servers: [
        httpFloorServer(url, POINT_SQL, floorPort, COMPARE_POOL),
        viaSqlwarden(() => startHttp(compareConfig), 'sqlwarden, HTTP'),
        ...(peersDir === null ? [] : [dbhubHttp(peersDir, url, POINT_SQL, dbhubPort)]),
      ],
      nextId,
      rounds: quick ? 1 : 3,
      ms: quick ? 2000 : 3000,
      warmWindow: WARM_WINDOW,
      warmWindows: quick ? 3 : WARM_WINDOWS,
      log,
    })
    log('')
  }

  if (runs('cold')) {
    // sqlwarden in two forms, interleaved: the bench's config file (YAML, pool of 32), and `--db URL`,
    // the form of the README's quick start and of most client configs (no file to read); with
    // --peers, the reference server and DBHub the same way.
    const forms: ComparedServer[] = [
      viaSqlwarden(() => startStdio(config), 'sqlwarden --config'),
      viaSqlwarden(() => startStdio(config, url), 'sqlwarden --db'),
      ...(peers ? peerServers(ensurePeers(log), url, POINT_SQL) : []),
    ]
    const starts = forms.map(() => [] as number[])
    for (let i = 0; i < (quick ? 3 : 7); i++) {
      for (const [j, form] of forms.entries()) {
        const t0 = performance.now()
        const s = await form.start()
        await form.call(s.client, 1)
        starts[j]!.push(performance.now() - t0)
        await s.close()
      }
    }
    const p50 = (j: number) => fmt(percentile(starts[j]!, 50), 0)
    log(`cold start to first result (spawn, connect, first query), real PostgreSQL: p50 ${p50(0)} ms with --config, ${p50(1)} ms with --db (target ≤ 400 ms)`)
    for (let j = 2; j < forms.length; j++) log(`  ${forms[j]!.label}: p50 ${p50(j)} ms`)
    log(`  for scale: node itself starts and exits in ${fmt(await bareNodeMs(quick ? 3 : 7), 0)} ms here (p50)`)
  }

  if (runs('analysis')) {
    await loadPostgresParser()
    const sql200 =
      "SELECT c.id, c.name, sum(o.total) AS spent FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.region = $1 AND o.created_at >= now() - interval '30 days' GROUP BY c.id, c.name ORDER BY spent DESC LIMIT 20"
    const limits = { maxSqlLength: 20_000, maxSqlDepth: 100 }
    for (let i = 0; i < 500; i++) analyzeSql(sql200, limits)
    const times: number[] = []
    for (let i = 0; i < (quick ? 2000 : 10_000); i++) {
      const t0 = performance.now()
      analyzeSql(sql200, limits)
      times.push(performance.now() - t0)
    }
    log(`SQL analysis of a ${sql200.length}-character query: p50 ${fmt(percentile(times, 50) * 1000, 0)} µs, p99 ${fmt(percentile(times, 99) * 1000, 0)} µs (target p50 ≤ 150 µs)`)
  }

  log(`\nload average at the end: ${loadavg().map((l) => fmt(l, 1)).join(' / ')}`)
  await pool.end()
  await admin?.end()
}

/** p50 of `node -e ''` from spawn to exit: the floor under any cold start on this machine. */
async function bareNodeMs(n: number): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await new Promise<void>((resolve, reject) => spawn(process.execPath, ['-e', ''], { stdio: 'ignore' }).once('exit', () => resolve()).once('error', reject))
    times.push(performance.now() - t0)
  }
  return percentile(times, 50)
}

async function warm(callers: Caller[], nextId: () => number): Promise<void> {
  for (const c of callers) for (let i = 0; i < 300; i++) await c(nextId())
}

/**
 * Concurrency 1, in rounds of `perRound` calls each, the order swapped every round. Besides the
 * pooled percentiles, the p50 ratio of each round's adjacent pair: the machine's speed drifts over a
 * run, and a pair measured seconds apart shares most of that drift.
 */
async function latencyInterleaved(base: Caller, sw: Caller, nextId: () => number, rounds: number, perRound: number) {
  const b: number[] = []
  const s: number[] = []
  const pairRatios: number[] = []
  for (let r = 0; r < rounds; r++) {
    const roundB: number[] = []
    const roundS: number[] = []
    for (const [caller, out] of r % 2 === 0 ? ([[base, roundB], [sw, roundS]] as const) : ([[sw, roundS], [base, roundB]] as const)) {
      for (let i = 0; i < perRound; i++) {
        const t0 = performance.now()
        await caller(nextId())
        out.push(performance.now() - t0)
      }
    }
    b.push(...roundB)
    s.push(...roundS)
    pairRatios.push(percentile(roundS, 50) / percentile(roundB, 50))
  }
  return {
    n: b.length,
    base50: percentile(b, 50),
    base99: percentile(b, 99),
    sw50: percentile(s, 50),
    sw99: percentile(s, 99),
    pairMedian: percentile(pairRatios, 50),
    pairMin: Math.min(...pairRatios),
    pairMax: Math.max(...pairRatios),
  }
}

/** CPU of the bench process and of the bench role's PostgreSQL backends, to show where a call's CPU goes. */
async function sideCpu<T>(work: () => Promise<T>): Promise<{ value: T; benchMs: number; backendsMs: number }> {
  const bench0 = process.cpuUsage()
  const backends0 = await backendCpu()
  const value = await work()
  const bench = process.cpuUsage(bench0)
  const backends1 = await backendCpu()
  // A backend that appeared during the work is counted whole.
  let backendsMs = 0
  for (const [pid, ms] of backends1) backendsMs += ms - (backends0.get(pid) ?? 0)
  return { value, benchMs: (bench.user + bench.system) / 1000, backendsMs }
}

let admin: pg.Client | null = null
async function backendCpu(): Promise<Map<number, number>> {
  if (admin === null) {
    admin = new pg.Client({ connectionString: ADMIN_URL })
    await admin.connect()
  }
  const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE usename = $1', [BENCH_ROLE])
  const out = new Map<number, number>()
  for (const { pid } of rows) {
    try {
      out.set(pid, cpuMs(pid))
    } catch {
      // the backend ended meanwhile
    }
  }
  return out
}

async function throughputInterleaved(base: Caller, sw: Caller, nextId: () => number, concurrency: number, rounds: number, ms: number, pid: number) {
  let baseCalls = 0
  let baseTime = 0
  let swCalls = 0
  let swTime = 0
  let cpu = 0
  let cpuSystem = 0
  const side = { baseBench: 0, baseBackends: 0, swBench: 0, swBackends: 0 }
  const lat: number[] = []
  for (let r = 0; r < rounds; r++) {
    const a = await sideCpu(() => burst(base, nextId, concurrency, ms))
    baseCalls += a.value.calls
    baseTime += a.value.elapsed
    side.baseBench += a.benchMs
    side.baseBackends += a.backendsMs
    const cpu0 = cpuSplitMs(pid)
    const s = await sideCpu(() => burst(sw, nextId, concurrency, ms))
    const cpu1 = cpuSplitMs(pid)
    cpu += cpu1.user + cpu1.system - cpu0.user - cpu0.system
    cpuSystem += cpu1.system - cpu0.system
    swCalls += s.value.calls
    swTime += s.value.elapsed
    side.swBench += s.benchMs
    side.swBackends += s.backendsMs
    lat.push(...s.value.latencies)
  }
  return {
    baseRate: (baseCalls * 1000) / baseTime,
    swRate: (swCalls * 1000) / swTime,
    sw50: percentile(lat, 50),
    sw99: percentile(lat, 99),
    cpuPerCall: cpu / swCalls,
    /** Of which in the kernel (system calls: reads, writes, wake-ups). */
    cpuSystemPerCall: cpuSystem / swCalls,
    /** CPU ms per call outside the server: the bench process (baseline's pg client, or the MCP client) and the PostgreSQL backends. */
    side: `bench process ${fmt(side.baseBench / baseCalls, 3)} / ${fmt(side.swBench / swCalls, 3)} ms, PostgreSQL backends ${fmt(side.baseBackends / baseCalls, 3)} / ${fmt(side.swBackends / swCalls, 3)} ms`,
  }
}

/** sqlwarden as one of the compared servers: the point lookup through its `query` tool. */
function viaSqlwarden(start: () => Promise<StartedServer>, label: string): ComparedServer {
  return {
    label,
    start,
    async call(client, id) {
      const r = (await client.callTool({ name: 'query', arguments: { sql: POINT_SQL, params: [id] } })) as { isError?: boolean }
      if (r.isError) throw new Error('query failed')
    },
  }
}

/** A stdio server from the bench config file, or from `--db URL` (the quick start's form) when `db` is given. */
function startStdio(config: string, db?: string) {
  return startStdioServer([...serverNodeArgs, CLI, ...(db === undefined ? ['--config', config] : ['--db', db])])
}

/** `n` distinct loopback ports nothing listens on right now (all held open together while chosen). */
async function freePorts(n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => createServer())
  const ports = await Promise.all(
    servers.map(
      (server) =>
        new Promise<number>((resolve, reject) => {
          server.once('error', reject)
          server.listen(0, '127.0.0.1', () => {
            const address = server.address()
            if (typeof address === 'object' && address !== null) resolve(address.port)
            else reject(new Error('no port'))
          })
        }),
    ),
  )
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
  return ports
}

async function startHttp(config: string) {
  const { child, match } = await spawnListening([...serverNodeArgs, CLI, '--config', config, '--http', '127.0.0.1:0'], /"endpoint":"(http:[^"]+)"/)
  return connectHttpClient(child, match[1]!)
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`)
  process.exit(1)
})
