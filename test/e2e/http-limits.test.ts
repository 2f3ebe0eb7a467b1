/**
 * HTTP limits (issue 5, I9, I17): the header timeout cuts a slowloris client that sends its headers
 * byte by byte, the request timeout cuts a body that trickles in, an idle keep-alive connection is
 * closed, and connections past the cap are closed at once while the open ones keep working and
 * /healthz answers again under the cap. Raw sockets against the real CLI, with small configured
 * limits so each cut is measured against its own setting.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { configSchema } from '../../src/config/config-schema.js'
import { readerUrl, setupE2eDatabase, SHOP_SOURCE_YAML } from '../helpers/e2e-fixture.js'
import { startHttpCli, writeTempConfig, type HttpServerProcess } from '../helpers/cli-process.js'

interface RawSocket {
  readonly socket: Socket
  /** Everything the server sent so far. */
  data(): string
  /** Resolves with the milliseconds from connect to close. */
  readonly closed: Promise<number>
  readonly isClosed: () => boolean
  /** Resolves when the received text matches. */
  waitFor(pattern: RegExp, ms?: number): Promise<string>
}

function rawSocket(base: string): Promise<RawSocket> {
  const url = new URL(base)
  return new Promise((resolve, reject) => {
    const startedAt = performance.now()
    const socket = connect(Number(url.port), url.hostname)
    let text = ''
    let isClosed = false
    const waiters: (() => void)[] = []
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1')
      for (const w of waiters.splice(0)) w()
    })
    socket.on('error', () => undefined)
    const closed = new Promise<number>((r) =>
      socket.once('close', () => {
        isClosed = true
        for (const w of waiters.splice(0)) w()
        r(performance.now() - startedAt)
      }),
    )
    socket.once('connect', () =>
      resolve({
        socket,
        data: () => text,
        closed,
        isClosed: () => isClosed,
        waitFor(pattern, ms = 5_000) {
          return new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error(`no ${String(pattern)} within ${ms} ms; got ${JSON.stringify(text)}`)), ms)
            const check = () => {
              const match = pattern.exec(text)
              if (match !== null) {
                clearTimeout(timer)
                res(match[0])
              } else if (isClosed) {
                clearTimeout(timer)
                rej(new Error(`closed before ${String(pattern)}; got ${JSON.stringify(text)}`))
              } else waiters.push(check)
            }
            check()
          })
        },
      }),
    )
    socket.once('error', reject)
  })
}

const healthz = (host: string) => `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n\r\n`
/** A complete /healthz answer (the body is `{"status":"ok"}`). */
const HEALTHY = /HTTP\/1\.1 200 OK[\s\S]*?\r\n\r\n\{"status":"ok"\}/

function ticker(socket: Socket, text: string, everyMs: number): () => void {
  let i = 0
  const timer = setInterval(() => {
    if (socket.destroyed || i >= text.length) return
    socket.write(text[i] ?? '')
    i += 1
  }, everyMs)
  return () => clearInterval(timer)
}

describe('http limits: configuration', () => {
  const parse = (http: Record<string, unknown>) => configSchema.safeParse({ sources: { a: { kind: 'embedded' } }, http })

  test('defaults: headers 10 s, request 30 s, keep-alive 5 s, 512 connections', () => {
    const r = parse({})
    assert.ok(r.success)
    assert.equal(r.data.http?.headersTimeoutMs, 10_000)
    assert.equal(r.data.http?.requestTimeoutMs, 30_000)
    assert.equal(r.data.http?.keepAliveTimeoutMs, 5_000)
    assert.equal(r.data.http?.maxConnections, 512)
  })

  test('durations as text; 0 (Node: no timeout), under 100 ms, unknown keys and headers > request are refused', () => {
    const r = parse({ headersTimeoutMs: '2s', requestTimeoutMs: '1m', keepAliveTimeoutMs: 750, maxConnections: 64 })
    assert.ok(r.success)
    assert.equal(r.data.http?.headersTimeoutMs, 2_000)
    assert.equal(r.data.http?.requestTimeoutMs, 60_000)
    for (const bad of [
      { headersTimeoutMs: 0 },
      { requestTimeoutMs: '50ms' },
      { keepAliveTimeoutMs: 0 },
      { maxConnections: 0 },
      { requestTimeoutMs: '20m' },
      { headersTimeoutMs: '20s', requestTimeoutMs: '10s' },
      { headerTimeoutMs: '1s' },
    ]) {
      assert.equal(parse(bad).success, false, JSON.stringify(bad))
    }
  })
})

describe('http limits: timeouts against slow clients (raw sockets, real CLI)', () => {
  let server: HttpServerProcess
  let host: string
  const HEADERS_MS = 600
  const REQUEST_MS = 1_800
  const KEEP_ALIVE_MS = 700
  const auditFile = join(mkdtempSync(join(tmpdir(), 'sqlwarden-http-limits-')), 'audit.jsonl')

  before(async () => {
    await setupE2eDatabase()
    const config = writeTempConfig(
      `${SHOP_SOURCE_YAML}http:\n  listen: 127.0.0.1:0\n  headersTimeoutMs: ${HEADERS_MS}ms\n  requestTimeoutMs: ${REQUEST_MS}ms\n  keepAliveTimeoutMs: ${KEEP_ALIVE_MS}ms\n` +
        `audit:\n  sink: file\n  file: ${auditFile}\n`,
    )
    server = await startHttpCli(['--config', config], { E2E_DB_URL: readerUrl() })
    host = new URL(server.base).host
  })

  after(async () => {
    await server?.stop()
  })

  test('slowloris: headers sent a byte every 50 ms are cut off at the header timeout with 408', async () => {
    const s = await rawSocket(server.base)
    const stop = ticker(s.socket, `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nX-Slow: ${'a'.repeat(400)}`, 50)
    const ms = await s.closed
    stop()
    assert.match(s.data(), /^HTTP\/1\.1 408 Request Timeout/)
    // Node checks on a timer (here every 150 ms): the cut is at the timeout, not at its default 30 s.
    assert.ok(ms >= HEADERS_MS - 50 && ms < HEADERS_MS + 700, `closed after ${ms.toFixed(0)} ms`)
    assert.ok(ms < REQUEST_MS, 'it was the header timeout, not the request timeout')
  })

  test('a body that trickles in is cut off at the request timeout with 408, before any tool runs', async () => {
    const s = await rawSocket(server.base)
    s.socket.write(
      `POST /mcp HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n` +
        `Content-Length: 60000\r\n\r\n`,
    )
    const stop = ticker(s.socket, `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"${'x'.repeat(1_000)}`, 50)
    const ms = await s.closed
    stop()
    assert.match(s.data(), /^HTTP\/1\.1 408 Request Timeout/)
    assert.ok(ms >= REQUEST_MS - 50 && ms < REQUEST_MS + 900, `closed after ${ms.toFixed(0)} ms`)
    // Audited as what it was: an incomplete request, not a body over the cap.
    const codes = async () => {
      for (let i = 0; i < 40; i += 1) {
        const lines = existsSync(auditFile) ? readFileSync(auditFile, 'utf8').trim().split('\n').filter((l) => l !== '') : []
        const found = lines.map((l) => (JSON.parse(l) as { error_code?: string | null }).error_code ?? null)
        if (found.includes('ERR_HTTP_INCOMPLETE')) return found
        await new Promise((r) => setTimeout(r, 50))
      }
      return []
    }
    const found = await codes()
    assert.ok(found.includes('ERR_HTTP_INCOMPLETE'), JSON.stringify(found))
    assert.ok(!found.includes('ERR_HTTP_BODY_TOO_LARGE'))
  })

  test('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const s = await rawSocket(server.base)
    s.socket.write(healthz(host))
    await s.waitFor(HEALTHY)
    const ms = await s.closed
    // Node 20.20 closes a fixed 1 s after the announced keep-alive timeout (so a client honouring
    // `Keep-Alive: timeout=…` never races the close); that second is not configurable.
    assert.ok(ms >= KEEP_ALIVE_MS - 50 && ms < KEEP_ALIVE_MS + 1_000 + 800, `closed after ${ms.toFixed(0)} ms`)
  })

  test('a prompt client is not affected: several requests on one connection within the timeouts', async () => {
    const s = await rawSocket(server.base)
    for (let i = 0; i < 3; i += 1) {
      const before = s.data().length
      s.socket.write(healthz(host))
      await s.waitFor(new RegExp(`^[\\s\\S]{${before}}${HEALTHY.source}`))
      await new Promise((r) => setTimeout(r, 200))
    }
    s.socket.destroy()
  })
})

describe('http limits: the connection cap (raw sockets, real CLI)', () => {
  let server: HttpServerProcess
  let host: string
  const CAP = 3

  before(async () => {
    await setupE2eDatabase()
    const config = writeTempConfig(`${SHOP_SOURCE_YAML}http:\n  listen: 127.0.0.1:0\n  maxConnections: ${CAP}\n  keepAliveTimeoutMs: 30s\n`)
    server = await startHttpCli(['--config', config], { E2E_DB_URL: readerUrl() })
    host = new URL(server.base).host
  })

  after(async () => {
    await server?.stop()
  })

  test('past the cap a new connection is closed at once; the open ones keep working; under the cap /healthz answers again', async () => {
    const open: RawSocket[] = []
    for (let i = 0; i < CAP; i += 1) {
      const s = await rawSocket(server.base)
      s.socket.write(healthz(host))
      await s.waitFor(HEALTHY)
      open.push(s)
    }
    // One more: closed by the server without an answer, even though it asks.
    const extra = await rawSocket(server.base)
    extra.socket.write(healthz(host))
    const extraMs = await Promise.race([extra.closed, new Promise<number>((r) => setTimeout(() => r(-1), 3_000))])
    assert.notEqual(extraMs, -1, 'the connection past the cap was closed')
    assert.equal(extra.data(), '', 'and got no answer')

    // The open connections keep working, a tool call included.
    for (const s of open) {
      const before = s.data().length
      s.socket.write(healthz(host))
      await s.waitFor(new RegExp(`^[\\s\\S]{${before}}${HEALTHY.source}`))
      assert.equal(s.isClosed(), false)
    }
    const first = open[0] as RawSocket
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'ping', params: {} })
    const before = first.data().length
    first.socket.write(
      `POST /mcp HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n` +
        `MCP-Protocol-Version: 2025-06-18\r\nContent-Length: ${Buffer.byteLength(ping)}\r\n\r\n${ping}`,
    )
    await first.waitFor(new RegExp(`^[\\s\\S]{${before}}HTTP/1\\.1 200 OK[\\s\\S]*"id":7`))

    // Under the cap again: a new connection is served.
    first.socket.destroy()
    await first.closed
    await new Promise((r) => setTimeout(r, 100))
    const next = await rawSocket(server.base)
    next.socket.write(healthz(host))
    await next.waitFor(HEALTHY)
    for (const s of [...open, next]) s.socket.destroy()
  })
})
