/**
 * What the floor servers answer: sqlwarden's `query` result shape from a rowMode 'array' result, and,
 * for the floors without the MCP SDK, the few JSON-RPC messages the SDK's client sends for a tool
 * call (initialize, the initialized notification, tools/call; anything else gets an empty result).
 */
import type pg from 'pg'

export function floorResult(result: pg.QueryArrayResult) {
  const structured = {
    columns: result.fields.map((f) => ({ name: f.name, type: String(f.dataTypeID) })),
    rows: result.rows as unknown[][],
    row_count: result.rows.length,
    truncated: false,
  }
  return { content: [{ type: 'text' as const, text: JSON.stringify(structured) }], structuredContent: structured }
}

export interface FloorMessage {
  readonly id?: string | number
  readonly method?: string
  readonly params?: { protocolVersion?: string; arguments?: { sql?: string; params?: unknown[] } }
}

/** The JSON-RPC response to a request (null for a notification), without any validation. */
export async function answerFloorMessage(message: FloorMessage, pool: pg.Pool, name: string): Promise<string | null> {
  if (message.id === undefined) return null
  try {
    let result: unknown = {}
    if (message.method === 'initialize') {
      result = { protocolVersion: message.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name, version: '1' } }
    } else if (message.method === 'tools/call') {
      const args = message.params?.arguments ?? {}
      result = floorResult(await pool.query({ text: String(args.sql), values: args.params ?? [], rowMode: 'array' }))
    }
    return JSON.stringify({ jsonrpc: '2.0', id: message.id, result })
  } catch {
    return JSON.stringify({ jsonrpc: '2.0', id: message.id, error: { code: -32603, message: 'failed' } })
  }
}
