/**
 * The `compare` scenario of `npm run bench`: the same point lookup through several MCP servers in
 * one run, interleaved with the raw pg.Pool baseline, so the targets' ratios can be read against
 * what the stack itself costs on this machine today:
 *   - the floors: JSON lines over stdio and a pg.Pool, with no MCP SDK (bench/stdio-floor-server.ts),
 *     what the two process hops and the query cost; and the same MCP SDK server over stdio handing
 *     the SQL straight to a pg.Pool
 *     (bench/floor-server.ts), what any server on this stack pays before it governs anything;
 *   - sqlwarden;
 *   - with `--peers`, the two servers the issue's targets were set against, installed from npm at
 *     pinned versions into a cache directory on first use (bench fixtures only, never a dependency):
 *     the reference PostgreSQL server and DBHub, over stdio, and DBHub over HTTP as well;
 *   - over HTTP, sqlwarden against an HTTP floor: Node's http server and a pg.Pool, no MCP SDK
 *     (bench/http-floor-server.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio'
import { burst, cpuMs, fmt, percentile, warmUntilSteady, type Caller } from './bench-stats.js'

/** A running server and the client connected to it. */
export interface StartedServer {
  readonly client: Client
  readonly pid: number
  /**
   * Replaces the client with a fresh one (HTTP): the SDK's HTTP client transport leaves a listener
   * on its long-lived abort signal per request, so a client that made a long warm-up grows slower.
   */
  renew?(): Promise<void>
  close(): Promise<void>
}

/** One server in the comparison: how to start it, and one point lookup through it. */
export interface ComparedServer {
  readonly label: string
  start(): Promise<StartedServer>
  call(client: Client, id: number): Promise<void>
}

/** Spawns `node <args>` as an MCP server over stdio and connects the SDK's Client to it. */
export async function startStdioServer(args: readonly string[]): Promise<StartedServer> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [...args],
    stderr: 'ignore',
  })
  const client = new Client({ name: 'bench', version: '1' })
  await client.connect(transport)
  const pid = (transport as unknown as { pid: number | null }).pid
  if (!pid) throw new Error('no server pid')
  return { client, pid, close: () => client.close() }
}

/** Connects the SDK's Client over Streamable HTTP to a server process already listening at `url`. */
export async function connectHttpClient(child: ChildProcess, url: string): Promise<StartedServer> {
  const connect = async () => {
    const c = new Client({ name: 'bench', version: '1' })
    await c.connect(new StreamableHTTPClientTransport(new URL(url)))
    return c
  }
  let client = await connect()
  return {
    get client() {
      return client
    },
    pid: child.pid ?? 0,
    async renew() {
      await client.close()
      client = await connect()
    },
    async close() {
      await client.close()
      child.kill('SIGTERM')
    },
  }
}

/** Throws when a tool call came back as an error, so a failing server cannot look fast. */
async function callOk(client: Client, name: string, args: Record<string, unknown>): Promise<void> {
  const result = (await client.callTool({ name, arguments: args })) as { isError?: boolean; content?: { text?: string }[] }
  if (result.isError) throw new Error(`${name} failed: ${result.content?.[0]?.text?.slice(0, 200) ?? ''}`)
}

const FLOOR_SERVER = fileURLToPath(new URL('./floor-server.ts', import.meta.url))

const STDIO_FLOOR_SERVER = fileURLToPath(new URL('./stdio-floor-server.ts', import.meta.url))

/** The floor without the SDK: JSON lines over stdio and a pg.Pool (bench/stdio-floor-server.ts). */
export function stdioFloorServer(url: string, pointSql: string, poolSize: number): ComparedServer {
  return {
    label: 'floor: JSON lines + pg.Pool, no MCP SDK',
    start: () => startStdioServer(['--import', 'tsx', STDIO_FLOOR_SERVER, url, String(poolSize)]),
    call: (client, id) => callOk(client, 'query', { sql: pointSql, params: [id] }),
  }
}

/** The floor: the MCP SDK server and a pg.Pool, nothing of sqlwarden. */
export function floorServer(url: string, pointSql: string, poolSize: number): ComparedServer {
  return {
    label: 'floor: same MCP SDK + pg.Pool, no governance',
    start: () => startStdioServer(['--import', 'tsx', FLOOR_SERVER, url, String(poolSize)]),
    call: (client, id) => callOk(client, 'query', { sql: pointSql, params: [id] }),
  }
}

/** The peers, pinned. Their tools take SQL text only, so the key is written into it (an integer). */
const PEERS = {
  reference: { pkg: '@modelcontextprotocol/server-postgres', version: '0.6.2', entry: 'dist/index.js' },
  dbhub: { pkg: '@bytebase/dbhub', version: '1.4.0', entry: 'dist/index.js' },
} as const

/** Where the peers are installed: $SQLWARDEN_BENCH_PEERS_DIR, or a directory under the temp dir. */
function peersDir(): string {
  return process.env.SQLWARDEN_BENCH_PEERS_DIR ?? join(tmpdir(), 'sqlwarden-bench-peers')
}

function installedVersion(dir: string, pkg: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(dir, 'node_modules', pkg, 'package.json'), 'utf8')) as { version?: string }).version ?? null
  } catch {
    return null
  }
}

/** Installs the pinned peers with npm if they are not there yet; returns their directory. */
export function ensurePeers(log: (s: string) => void): string {
  const dir = peersDir()
  const missing = Object.values(PEERS).filter((p) => installedVersion(dir, p.pkg) !== p.version)
  if (missing.length > 0) {
    mkdirSync(dir, { recursive: true })
    log(`installing ${missing.map((p) => `${p.pkg}@${p.version}`).join(', ')} into ${dir} (npm)…`)
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
    const result = spawnSync(
      npm,
      ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', dir, ...missing.map((p) => `${p.pkg}@${p.version}`)],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    )
    if (result.status !== 0) throw new Error(`npm install of the peers failed (exit ${result.status})`)
  }
  return dir
}

function peerEntry(dir: string, peer: (typeof PEERS)[keyof typeof PEERS]): string {
  const entry = join(dir, 'node_modules', peer.pkg, peer.entry)
  if (!existsSync(entry)) throw new Error(`${peer.pkg}: ${entry} is missing`)
  return entry
}

/** The point lookup with its key written in: the peers' tools take SQL text only (the key is an integer). */
function withKey(pointSql: string, id: number): string {
  return pointSql.replace('$1', String(Math.trunc(id)))
}

/** DBHub wants sslmode spelled out; the loopback server has no TLS. */
function dbhubDsn(url: string): string {
  const u = new URL(url)
  u.searchParams.set('sslmode', 'disable')
  return u.toString()
}

export function peerServers(dir: string, url: string, pointSql: string): ComparedServer[] {
  return [
    {
      label: `reference server ${PEERS.reference.version} (npm)`,
      start: () => startStdioServer([peerEntry(dir, PEERS.reference), url]),
      call: (client, id) => callOk(client, 'query', { sql: withKey(pointSql, id) }),
    },
    {
      label: `DBHub ${PEERS.dbhub.version} (npm)`,
      start: () => startStdioServer([peerEntry(dir, PEERS.dbhub), '--transport', 'stdio', '--dsn', dbhubDsn(url)]),
      call: (client, id) => callOk(client, 'execute_sql', { sql: withKey(pointSql, id) }),
    },
  ]
}

/**
 * Spawns `node <args>` and resolves once its stdout or stderr has printed something `marker`
 * matches, with the match (a server on port 0 prints where it listens).
 */
export async function spawnListening(args: readonly string[], marker: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, [...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString()
      const found = marker.exec(out)
      if (found !== null) {
        // Keep draining, stop collecting: the bench process must not grow with the server's output.
        child.stdout?.off('data', onData).resume()
        child.stderr?.off('data', onData).resume()
        resolve(found)
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', () => reject(new Error(`server exited: ${out.slice(-500)}`)))
  })
  return { child, match }
}

const HTTP_FLOOR_SERVER = fileURLToPath(new URL('./http-floor-server.ts', import.meta.url))

/** The HTTP floor: Node's http server and a pg.Pool, no MCP SDK (bench/http-floor-server.ts). */
export function httpFloorServer(url: string, pointSql: string, port: number, poolSize: number): ComparedServer {
  return {
    label: 'floor: node:http + pg.Pool, no MCP SDK, HTTP',
    async start() {
      const { child } = await spawnListening(['--import', 'tsx', HTTP_FLOOR_SERVER, url, String(port), String(poolSize)], /http floor listening/)
      return connectHttpClient(child, `http://127.0.0.1:${port}/mcp`)
    },
    call: (client, id) => callOk(client, 'query', { sql: pointSql, params: [id] }),
  }
}

/** DBHub over Streamable HTTP on a loopback port (it binds 0.0.0.0 unless told otherwise). */
export function dbhubHttp(dir: string, url: string, pointSql: string, port: number): ComparedServer {
  return {
    label: `DBHub ${PEERS.dbhub.version} (npm), HTTP`,
    async start() {
      const { child } = await spawnListening(
        [peerEntry(dir, PEERS.dbhub), '--transport', 'http', '--host', '127.0.0.1', '--port', String(port), '--dsn', dbhubDsn(url)],
        /MCP server endpoint at/,
      )
      return connectHttpClient(child, `http://127.0.0.1:${port}/mcp`)
    },
    call: (client, id) => callOk(client, 'execute_sql', { sql: withKey(pointSql, id) }),
  }
}

interface CompareOptions {
  readonly title: string
  readonly servers: readonly ComparedServer[]
  readonly nextId: () => number
  /** Rounds of the main measurement (concurrency 1 for stdio, 32 in flight for HTTP). */
  readonly rounds: number
  /** Length of one 32-in-flight burst. */
  readonly ms: number
  /** Warm-up before measuring: windows of this many calls at 32 in flight, at most warmWindows (warmUntilSteady). */
  readonly warmWindow: number
  readonly warmWindows: number
  readonly log: (s: string) => void
}

interface Row {
  readonly label: string
  readonly c1: number[]
  calls: number
  elapsed: number
  cpu: number
}

/**
 * `rounds` rounds of one 32-in-flight burst of `ms` per caller, the order turned by one every round;
 * adds each caller's calls, time and, where its pid is not 0, the server's CPU to its row.
 */
async function burstRounds(
  rows: { calls: number; elapsed: number; cpu: number }[],
  callers: readonly Caller[],
  pids: readonly number[],
  rounds: number,
  ms: number,
  nextId: () => number,
): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < callers.length; k++) {
      const j = (k + r) % callers.length
      const pid = pids[j]!
      const cpu0 = pid === 0 ? 0 : cpuMs(pid)
      const b = await burst(callers[j]!, nextId, 32, ms)
      rows[j]!.cpu += pid === 0 ? 0 : cpuMs(pid) - cpu0
      rows[j]!.calls += b.calls
      rows[j]!.elapsed += b.elapsed
    }
  }
}

/**
 * Every server and the baseline, interleaved: at concurrency 1 (rounds of `perRound` calls each,
 * the order turned by one every round) and at 32 in flight (rounds of `ms` each), with the server's
 * CPU read from /proc around its own bursts.
 */
export async function compareServers(o: CompareOptions & { readonly baseline: Caller; readonly perRound: number; readonly throughputRounds: number }): Promise<void> {
  const started: StartedServer[] = []
  try {
    for (const s of o.servers) started.push(await s.start())
    const callers: Caller[] = [o.baseline, ...o.servers.map((s, i) => (id: number) => s.call(started[i]!.client, id))]
    const pids = [0, ...started.map((s) => s.pid)]
    const rows: Row[] = ['baseline: pg.Pool in the bench process', ...o.servers.map((s) => s.label)].map((label) => ({ label, c1: [], calls: 0, elapsed: 0, cpu: 0 }))
    for (const caller of callers) for (let i = 0; i < 300; i++) await caller(o.nextId())
    for (const [i, s] of started.entries()) await warmUntilSteady(callers[i + 1]!, s.pid, o.nextId, o.warmWindow, o.warmWindows)

    for (let r = 0; r < o.rounds; r++) {
      for (let k = 0; k < callers.length; k++) {
        const j = (k + r) % callers.length
        for (let i = 0; i < o.perRound; i++) {
          const t0 = performance.now()
          await callers[j]!(o.nextId())
          rows[j]!.c1.push(performance.now() - t0)
        }
      }
    }
    await burstRounds(rows, callers, pids, o.throughputRounds, o.ms, o.nextId)

    const base = rows[0]!
    const base50 = percentile(base.c1, 50)
    const baseRate = (base.calls * 1000) / base.elapsed
    const width = Math.max(...rows.map((row) => row.label.length))
    o.log(o.title)
    o.log(`  ${''.padEnd(width)}  c=1 p50   ratio   p99 ratio   32 in flight   ratio   server CPU/call`)
    for (const row of rows) {
      const p50 = percentile(row.c1, 50)
      const rate = (row.calls * 1000) / row.elapsed
      const cpu = row === base ? '—' : `${fmt(row.cpu / row.calls, 3)} ms`
      o.log(
        `  ${row.label.padEnd(width)}  ${fmt(p50 * 1000, 0).padStart(5)} µs  ${fmt(p50 / base50).padStart(5)}×  ` +
          `${fmt(percentile(row.c1, 99) / percentile(base.c1, 99)).padStart(8)}×  ${fmt(rate, 0).padStart(8)}/s  ` +
          `${fmt(rate / baseRate).padStart(5)}×   ${cpu}`,
      )
    }
  } finally {
    for (const s of started) await s.close().catch(() => undefined)
  }
}

/** Servers over HTTP at 32 in flight only: calls/s and server CPU per call, interleaved. */
export async function compareHttpServers(o: CompareOptions): Promise<void> {
  const started: StartedServer[] = []
  try {
    for (const s of o.servers) started.push(await s.start())
    const rows = o.servers.map((s) => ({ label: s.label, calls: 0, elapsed: 0, cpu: 0 }))
    const callers = o.servers.map((s, i) => (id: number) => s.call(started[i]!.client, id))
    const warmups: string[] = []
    for (const [i, s] of started.entries()) {
      const w = await warmUntilSteady(callers[i]!, s.pid, o.nextId, o.warmWindow, o.warmWindows)
      warmups.push(`${w.calls} calls, server CPU per call ${fmt(w.firstMs, 3)} ms in the first ${o.warmWindow}, ${fmt(w.lastMs, 3)} ms in the last`)
      await s.renew?.()
    }
    await burstRounds(rows, callers, started.map((s) => s.pid), o.rounds, o.ms, o.nextId)
    const width = Math.max(...rows.map((row) => row.label.length))
    o.log(o.title)
    for (const [i, row] of rows.entries()) {
      o.log(`  ${row.label.padEnd(width)}  ${fmt((row.calls * 1000) / row.elapsed, 0).padStart(6)} calls/s   server CPU per call ${fmt(row.cpu / row.calls, 3)} ms`)
      o.log(`  ${''.padEnd(width)}  after warming up at 32 in flight: ${warmups[i]}`)
    }
  } finally {
    for (const s of started) await s.close().catch(() => undefined)
  }
}
