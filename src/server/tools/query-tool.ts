import { z } from 'zod'
import type { ReadResult } from '../../exec/drivers/driver.js'
import { ok } from '../../util/result.js'
import { fenceUntrusted } from '../untrusted-fence.js'
import { sourceName, sqlParams } from './common-schemas.js'
import { READ_ONLY_ANNOTATIONS, type ToolDefinition } from './tool-definition.js'

const input = z
  .object({
    sql: z.string().describe('Exactly one read-only statement: SELECT, VALUES, TABLE, WITH, EXPLAIN (no ANALYZE) or SHOW.'),
    params: sqlParams.optional(),
    max_rows: z.number().int().min(1).optional().describe('Lowers the row cap for this call; it cannot raise it.'),
    source: sourceName.optional(),
  })
  .strict()

export const queryResultSchema = z
  .object({
    columns: z.array(z.object({ name: z.string(), type: z.string() }).strict()),
    // Cells are any JSON value (documented per type in the README). A plain `{}` item schema keeps
    // client-side validation cheap; a recursive union made every client walk every cell.
    rows: z.array(z.array(z.unknown())),
    row_count: z.number().int().nonnegative(),
    truncated: z.boolean(),
    truncated_by: z.enum(['rows', 'bytes']).nullable(),
  })
  .strict()

export type QueryInput = z.infer<typeof input>
export type QueryOutput = z.infer<typeof queryResultSchema>

export function toQueryOutput(result: ReadResult): QueryOutput {
  return {
    columns: result.columns.map((c) => ({ name: c.name, type: c.type })),
    rows: result.rows as unknown[][],
    row_count: result.rowCount,
    truncated: result.truncated,
    truncated_by: result.truncatedBy,
  }
}

export function renderRows(output: QueryOutput): string {
  const header =
    `${output.row_count} row${output.row_count === 1 ? '' : 's'}` +
    (output.truncated ? `, truncated by the ${output.truncated_by === 'bytes' ? 'byte' : 'row'} cap` : '') +
    `. Columns: ${output.columns.map((c) => `${c.name} (${c.type})`).join(', ') || 'none'}.`
  const lines = output.rows.map((row) => JSON.stringify(row))
  return `${header}\n${fenceUntrusted([JSON.stringify(output.columns.map((c) => c.name)), ...lines].join('\n'))}`
}

export const queryTool: ToolDefinition<QueryInput, QueryOutput> = {
  name: 'query',
  title: 'Run a read-only SQL query',
  description:
    'Runs exactly one read-only SQL statement with $1… parameters inside a read-only transaction. ' +
    'Results are capped in rows and bytes; `truncated` says when a cap stopped them. Column values keep ' +
    'their meaning: bigint and numeric as exact strings, timestamps as ISO 8601, bytea as base64, json as JSON.',
  inputSchema: input,
  outputSchema: queryResultSchema,
  annotations: { title: 'Run a read-only SQL query', ...READ_ONLY_ANNOTATIONS },
  sqlOf: (i) => ({ sql: i.sql, params: i.params ?? [] }),
  maxRowsOf: (i) => i.max_rows,
  sourceOf: (i) => i.source,
  async run(i, env) {
    const result = await env.source.driver.read({
      sql: env.analysis?.statementText ?? i.sql,
      params: i.params ?? [],
      limits: env.limits,
      signal: env.ctx.signal,
    })
    return result.ok ? ok(toQueryOutput(result.value)) : result
  },
  renderText: renderRows,
}
