/**
 * The floor under any server over HTTP on this machine: Node's `http` server, JSON in and out, and a
 * `pg.Pool`, with no MCP SDK at all (floor-result.ts answers). Not an MCP server: no validation, no
 * sessions, no Host or Origin checks. A bench fixture only; it listens on loopback.
 *
 *   node --import tsx bench/http-floor-server.ts postgres://… <port> [pool size, default 20]
 */
import { createServer } from 'node:http'
import pg from 'pg'
import { answerFloorMessage, type FloorMessage } from './floor-result.js'

const [url, port, poolSize] = process.argv.slice(2)
if (url === undefined || port === undefined) throw new Error('usage: http-floor-server.ts <postgres url> <port> [pool size]')
const pool = new pg.Pool({ connectionString: url, max: Number(poolSize ?? 20) })

const server = createServer((req, res) => {
  if (req.method !== 'POST') {
    res.writeHead(405).end()
    return
  }
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => chunks.push(chunk))
  req.on('end', () => {
    const message = JSON.parse(Buffer.concat(chunks).toString('utf8')) as FloorMessage
    void answerFloorMessage(message, pool, 'sqlwarden-bench-http-floor').then((body) => {
      if (body === null) res.writeHead(202).end()
      else res.writeHead(200, { 'content-type': 'application/json' }).end(body)
    })
  })
})
server.listen(Number(port), '127.0.0.1', () => process.stderr.write(`http floor listening on 127.0.0.1:${port}\n`))
