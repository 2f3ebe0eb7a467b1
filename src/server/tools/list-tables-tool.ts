import { z } from 'zod'
import { relationDeps } from '../../pipeline/relation-deps.js'
import { readableRelations } from '../../policy/relation-policy.js'
import { ok } from '../../util/result.js'
import { fenceUntrusted } from '../untrusted-fence.js'
import { sourceName } from './common-schemas.js'
import { READ_ONLY_ANNOTATIONS, type ToolDefinition } from './tool-definition.js'

const input = z
  .object({
    schema: z.string().min(1).max(63).optional().describe('Only this schema; all non-system schemas when omitted.'),
    source: sourceName.optional(),
  })
  .strict()

const output = z
  .object({
    tables: z.array(
      z
        .object({
          schema: z.string(),
          name: z.string(),
          kind: z.enum(['table', 'view', 'materialized_view', 'foreign_table', 'partitioned_table']),
          estimated_rows: z.number().nullable(),
          comment: z.string().nullable(),
        })
        .strict(),
    ),
  })
  .strict()

type Output = z.infer<typeof output>

export const listTablesTool: ToolDefinition<z.infer<typeof input>, Output> = {
  name: 'list_tables',
  title: 'List tables and views',
  description: 'Lists tables, views and materialized views, with estimated row counts and comments.',
  inputSchema: input,
  outputSchema: output,
  annotations: { title: 'List tables and views', ...READ_ONLY_ANNOTATIONS },
  sourceOf: (i) => i.source,
  async run(i, env) {
    const result = await env.source.driver.listTables(i.schema ?? null, env.limits)
    if (!result.ok) return result
    // Under phase B rules, only what this call could read: the same decision as a query naming it.
    const readable = await readableRelations(result.value, env.grant.relations, env.grant.functions, relationDeps(env.source))
    if (!readable.ok) return readable
    return ok({
      tables: result.value.filter((_, index) => readable.value[index] === true).map((t) => ({
        schema: t.schema,
        name: t.name,
        kind: t.kind,
        estimated_rows: t.estimatedRows,
        comment: t.comment,
      })),
    })
  },
  renderText: (o) =>
    `${o.tables.length} table${o.tables.length === 1 ? '' : 's'} (schema, name, kind, estimated rows, comment).\n` +
    fenceUntrusted(o.tables.map((t) => JSON.stringify([t.schema, t.name, t.kind, t.estimated_rows, t.comment])).join('\n')),
}
