/**
 * The floor under any server over stdio on this machine: newline-delimited JSON on stdin and stdout
 * and a `pg.Pool`, with no MCP SDK at all (floor-result.ts answers): what the two process hops and
 * the query cost. Not an MCP server. A bench fixture only.
 *
 *   node --import tsx bench/stdio-floor-server.ts postgres://… [pool size, default 32]
 */
import { createInterface } from 'node:readline'
import pg from 'pg'
import { answerFloorMessage, type FloorMessage } from './floor-result.js'

const url = process.argv[2]
if (url === undefined) throw new Error('usage: stdio-floor-server.ts <postgres url> [pool size]')
const pool = new pg.Pool({ connectionString: url, max: Number(process.argv[3] ?? 32) })

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === '') return
  void answerFloorMessage(JSON.parse(line) as FloorMessage, pool, 'sqlwarden-bench-stdio-floor').then((body) => {
    if (body !== null) process.stdout.write(`${body}\n`)
  })
})
process.stdin.on('end', () => void pool.end().then(() => process.exit(0)))
