/**
 * The floor under any server over HTTP on this machine: Node's `http` server, JSON in and out, and a
 * `pg.Pool`, with no MCP SDK at all. It answers the few JSON-RPC messages the SDK's client sends
 * for a tool call (initialize, the initialized notification, tools/call; anything else gets an
 * empty result), with the same result shape as bench/floor-server.ts. Not an MCP server: no
 * validation, no sessions, no Host or Origin checks. A bench fixture only; it listens on loopback.
 *
 *   node --import tsx bench/http-floor-server.ts postgres://… <port> [pool size, default 20]
 */
import { createServer } from 'node:http'
import pg from 'pg'
import { floorResult } from './floor-result.js'

const [url, port, poolSize] = process.argv.slice(2)
if (url === undefined || port === undefined) throw new Error('usage: http-floor-server.ts <postgres url> <port> [pool size]')
const pool = new pg.Pool({ connectionString: url, max: Number(poolSize ?? 20) })

interface Message {
  readonly id?: string | number
  readonly method?: string
  readonly params?: { protocolVersion?: string; arguments?: { sql?: string; params?: unknown[] } }
}

async function answer(message: Message): Promise<unknown> {
  if (message.method === 'initialize') {
    return { protocolVersion: message.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'sqlwarden-bench-http-floor', version: '1' } }
  }
  if (message.method !== 'tools/call') return {}
  const args = message.params?.arguments ?? {}
  return floorResult(await pool.query({ text: String(args.sql), values: args.params ?? [], rowMode: 'array' }))
}

const server = createServer((req, res) => {
  if (req.method !== 'POST') {
    res.writeHead(405).end()
    return
  }
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => chunks.push(chunk))
  req.on('end', () => {
    const message = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Message
    if (message.id === undefined) {
      res.writeHead(202).end()
      return
    }
    answer(message).then(
      (result) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: message.id, result })),
      () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: message.id, error: { code: -32603, message: 'failed' } })),
    )
  })
})
server.listen(Number(port), '127.0.0.1', () => process.stderr.write(`http floor listening on 127.0.0.1:${port}\n`))
