/**
 * The floor under any governed server built on the same stack: the MCP SDK's low-level `Server`
 * over its stdio transport, with one `query` tool that hands the SQL and parameters straight to a
 * `pg.Pool` and answers with sqlwarden's result shape (structuredContent plus a JSON text). No
 * analysis, policy, transaction, settings, leak check or rendering: what is left of sqlwarden's
 * cost per call once everything sqlwarden adds is taken away. A bench fixture only; never serve it.
 *
 *   node --import tsx bench/floor-server.ts postgres://… [pool size, default 32]
 */
import { Server } from '@modelcontextprotocol/server'
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio'
import pg from 'pg'
import { floorResult } from './floor-result.js'

const url = process.argv[2]
if (url === undefined) throw new Error('usage: floor-server.ts <postgres url>')
const pool = new pg.Pool({ connectionString: url, max: Number(process.argv[3] ?? 32) })

const server = new Server({ name: 'sqlwarden-bench-floor', version: '1' }, { capabilities: { tools: {} } })
server.setRequestHandler('tools/list', async () => ({
  tools: [{ name: 'query', inputSchema: { type: 'object' as const, properties: { sql: { type: 'string' }, params: { type: 'array' } } } }],
}))
server.setRequestHandler('tools/call', async (request) => {
  const args = (request.params.arguments ?? {}) as { sql?: string; params?: unknown[] }
  return floorResult(await pool.query({ text: String(args.sql), values: args.params ?? [], rowMode: 'array' }))
})
await server.connect(new StdioServerTransport())
