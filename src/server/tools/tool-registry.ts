/** The tools sqlwarden serves. Names and input shapes are a contract (README "Tools"). */
import { describeTableTool } from './describe-table-tool.js'
import { executeTool } from './execute-tool.js'
import { explainTool } from './explain-tool.js'
import { listSchemasTool } from './list-schemas-tool.js'
import { listTablesTool } from './list-tables-tool.js'
import { queryTool } from './query-tool.js'
import type { AnyToolDefinition } from './tool-definition.js'

export const TOOLS: readonly AnyToolDefinition[] = Object.freeze([
  queryTool,
  listSchemasTool,
  listTablesTool,
  describeTableTool,
  explainTool,
  // Writes: shown only to principals granted `access: { write: [...] }` (never a default tool).
  executeTool,
])

const byName: ReadonlyMap<string, AnyToolDefinition> = new Map(TOOLS.map((t) => [t.name, t]))

export function findTool(name: string): AnyToolDefinition | undefined {
  return byName.get(name)
}
