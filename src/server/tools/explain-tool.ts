import { z } from 'zod'
import { fail, ok } from '../../util/result.js'
import { fenceUntrusted } from '../untrusted-fence.js'
import { sourceName, sqlParams } from './common-schemas.js'
import { READ_ONLY_ANNOTATIONS, type ToolDefinition } from './tool-definition.js'

const input = z
  .object({
    sql: z.string().describe('One read-only statement to plan. The plan is estimated only: never EXPLAIN ANALYZE.'),
    params: sqlParams.optional(),
    source: sourceName.optional(),
  })
  .strict()

const output = z.object({ plan: z.unknown() }).strict()

type ExplainInput = z.infer<typeof input>
type ExplainOutput = { plan: unknown }

export const explainTool: ToolDefinition<ExplainInput, ExplainOutput> = {
  name: 'explain',
  title: 'Show the query plan',
  description:
    'Returns PostgreSQL’s estimated plan (EXPLAIN (FORMAT JSON)) for one read-only statement without running it.',
  inputSchema: input,
  outputSchema: output,
  annotations: { title: 'Show the query plan', ...READ_ONLY_ANNOTATIONS },
  sqlOf: (i) => ({ sql: i.sql, params: i.params ?? [] }),
  sourceOf: (i) => i.source,
  async run(i, env) {
    const analysis = env.analysis
    if (analysis === null) return fail('ERR_INTERNAL', { subject: 'explain_without_analysis' })
    // EXPLAIN of an EXPLAIN is not valid SQL, and SHOW has no plan: plan the inner read only.
    if (analysis.statementClass !== 'select') return fail('ERR_SQL_FORBIDDEN_CONSTRUCT', { subject: `explain_${analysis.statementClass}` })
    const result = await env.source.driver.explain({
      sql: analysis.statementText,
      params: i.params ?? [],
      limits: env.limits,
      signal: env.ctx.signal,
    })
    if (!result.ok) return result
    const plan = result.value.rows[0]?.[0]
    return ok({ plan: plan ?? null })
  },
  renderText: (o) => `Estimated plan (not executed).\n${fenceUntrusted(JSON.stringify(o.plan, null, 1))}`,
}
