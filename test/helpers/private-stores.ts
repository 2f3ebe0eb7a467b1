/**
 * Private Redis and PostgreSQL instances on free loopback ports, for fault tests that kill and
 * restart a store (never the shared ones). Redis: the `redis-server` binary. PostgreSQL: initdb and
 * pg_ctl from the installed server, run as the `postgres` user when the tests run as root.
 * PgBouncer in front of a server, for the pooler tests (startPgBouncer).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      const port = typeof a === 'object' && a !== null ? a.port : 0
      s.close(() => resolve(port))
    })
  })
}

export interface PrivateRedis {
  readonly url: string
  readonly port: number
  kill(): Promise<void>
  start(): Promise<void>
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort()
  let child: ChildProcess | null = null
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    for (let i = 0; i < 100; i++) {
      try {
        execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'ping'], { stdio: 'pipe' })
        return
      } catch {
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    throw new Error('private redis-server did not start')
  }
  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    async kill() {
      const c = child as ChildProcess | null
      if (c === null || c.exitCode !== null) return
      const exited = new Promise((r) => c.once('exit', r))
      c.kill('SIGKILL')
      await exited
      child = null
    },
  }
}

export interface PrivatePostgres {
  readonly url: string
  readonly port: number
  /** Immediate shutdown (like a crash: no checkpoint, connections cut). */
  kill(): Promise<void>
  start(): Promise<void>
  destroy(): Promise<void>
}

function pgBin(name: string): string {
  const root = '/usr/lib/postgresql'
  const version = existsSync(root) ? readdirSync(root).sort().at(-1) : undefined
  const path = version === undefined ? name : join(root, version, 'bin', name)
  return existsSync(path) ? path : name
}

function asPostgres(cmd: string, args: string[]): void {
  if (process.getuid?.() === 0) execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'pipe' })
  else execFileSync(cmd, args, { stdio: 'pipe' })
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'sqlwarden-pg-'))
  chmodSync(dir, 0o777)
  const data = join(dir, 'data')
  asPostgres(pgBin('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'])
  const start = async () => {
    asPostgres(pgBin('pg_ctl'), ['-D', data, '-w', '-t', '30', '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start'])
  }
  await start()
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    async kill() {
      asPostgres(pgBin('pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'])
    },
    async destroy() {
      try {
        asPostgres(pgBin('pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'])
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface PrivatePgBouncer {
  readonly url: string
  stop(): Promise<void>
}

/**
 * A private PgBouncer (Debian's `pgbouncer`, installed by .ci/run) on a free loopback port, in front
 * of the PostgreSQL at `target`, in the given pool mode, with `serverPool` server connections. Trust
 * auth for the target's user, as the loopback test server has. Run as `postgres` when the tests
 * run as root (PgBouncer refuses root).
 */
export async function startPgBouncer(target: string, mode: 'session' | 'transaction' | 'statement', serverPool: number): Promise<PrivatePgBouncer> {
  const bin = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((p) => existsSync(p)) ?? 'pgbouncer'
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'sqlwarden-pgbouncer-'))
  chmodSync(dir, 0o777)
  const url = new URL(target)
  const user = decodeURIComponent(url.username) || 'postgres'
  const db = url.pathname.replace(/^\//, '') || 'postgres'
  writeFileSync(join(dir, 'users.txt'), `"${user}" ""\n`)
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `${db} = host=${url.hostname} port=${url.port || '5432'} dbname=${db}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      `pool_mode = ${mode}`,
      `default_pool_size = ${serverPool}`,
      'max_client_conn = 100',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      // pg sends no startup parameters PgBouncer would refuse; application_name passes through.
      'ignore_startup_parameters = extra_float_digits,options',
      '',
    ].join('\n'),
  )
  for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o666)
  const ini = join(dir, 'pgbouncer.ini')
  const args = process.getuid?.() === 0 ? ['-u', 'postgres', ini] : [ini]
  let child: ChildProcess | null = spawn(bin, args, { stdio: 'ignore' })
  const exited = new Promise<void>((resolve) => child?.once('exit', () => resolve()))
  child.once('error', () => undefined)
  const proxied = `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/${db}`
  for (let i = 0; ; i++) {
    if (child.exitCode !== null || i >= 100) {
      child.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
      throw new Error(`PgBouncer (${bin}) did not start; .ci/run installs it (apt-get install pgbouncer)`)
    }
    try {
      execFileSync('pg_isready', ['-h', '127.0.0.1', '-p', String(port), '-d', db, '-U', user, '-q'], { stdio: 'pipe' })
      break
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  return {
    url: proxied,
    async stop() {
      const c = child
      child = null
      if (c !== null && c.exitCode === null) {
        c.kill('SIGTERM')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
