/**
 * `execute`: one INSERT, UPDATE or DELETE, for principals granted `access: { write: [...] }` only.
 * Never in a grant's default tools; `tools/list` shows it only to principals who may write. The
 * pipeline runs the write analysis, the write policy and the user's confirmation of exactly this
 * statement and these parameters before `run` (pipeline.ts); `run` sees only the accepted analysis.
 */
import { z } from 'zod'
import type { WriteResult } from '../../exec/drivers/driver.js'
import { fail, ok } from '../../util/result.js'
import { sourceName, sqlParams } from './common-schemas.js'
import { queryResultSchema, renderRows, toQueryOutput } from './query-tool.js'
import type { ToolDefinition } from './tool-definition.js'

const input = z
  .object({
    sql: z
      .string()
      .describe('Exactly one INSERT, UPDATE or DELETE (RETURNING allowed). No DDL, MERGE, COPY or data-modifying CTEs.'),
    params: sqlParams.optional(),
    source: sourceName.optional(),
  })
  .strict()

const output = z
  .object({
    statement_class: z.enum(['insert', 'update', 'delete']),
    row_count: z.number().int().nonnegative(),
    returning: queryResultSchema.optional(),
  })
  .strict()

type ExecuteInput = z.infer<typeof input>
type ExecuteOutput = z.infer<typeof output>

function toOutput(statementClass: ExecuteOutput['statement_class'], result: WriteResult): ExecuteOutput {
  return {
    statement_class: statementClass,
    row_count: result.rowCount,
    ...(result.returning === null ? {} : { returning: toQueryOutput(result.returning) }),
  }
}

export const executeTool: ToolDefinition<ExecuteInput, ExecuteOutput> = {
  name: 'execute',
  title: 'Write to the database (asks the user first)',
  description:
    'Runs exactly one INSERT, UPDATE or DELETE with $1… parameters in a read-write transaction, after the user ' +
    'confirms that statement in the client. Only for roles granted writes; DDL is never allowed. The row count ' +
    'comes back, and RETURNING rows capped like a query.',
  inputSchema: input,
  outputSchema: output,
  annotations: {
    title: 'Write to the database (asks the user first)',
    readOnlyHint: false,
    destructiveHint: true,
    idempotentHint: false,
    openWorldHint: false,
  },
  writes: true,
  sqlOf: (i) => ({ sql: i.sql, params: i.params ?? [] }),
  sourceOf: (i) => i.source,
  async run(i, env) {
    const analysis = env.analysis
    // Only an analysis from the write path has `write`; anything else is a bug, refused.
    if (analysis === null || analysis.write === undefined) return fail('ERR_INTERNAL', { subject: 'execute_without_write_analysis' })
    const statementClass = analysis.statementClass
    if (statementClass !== 'insert' && statementClass !== 'update' && statementClass !== 'delete') {
      return fail('ERR_INTERNAL', { subject: 'execute_without_write_analysis' })
    }
    const result = await env.source.driver.write({
      sql: analysis.statementText,
      params: i.params ?? [],
      statementClass,
      limits: env.limits,
      signal: env.ctx.signal,
    })
    return result.ok ? ok(toOutput(statementClass, result.value)) : result
  },
  renderText(o) {
    const head = `${o.statement_class.toUpperCase()}: ${o.row_count} row${o.row_count === 1 ? '' : 's'} affected (committed).`
    return o.returning === undefined ? head : `${head}\nReturned: ${renderRows(o.returning)}`
  },
}
