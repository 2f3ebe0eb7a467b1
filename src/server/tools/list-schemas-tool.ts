import { z } from 'zod'
import { ok } from '../../util/result.js'
import { fenceUntrusted } from '../untrusted-fence.js'
import { sourceName } from './common-schemas.js'
import { READ_ONLY_ANNOTATIONS, type ToolDefinition } from './tool-definition.js'

const input = z.object({ source: sourceName.optional() }).strict()
const output = z
  .object({
    schemas: z.array(z.object({ name: z.string(), owner: z.string(), comment: z.string().nullable() }).strict()),
  })
  .strict()

type Output = z.infer<typeof output>

export const listSchemasTool: ToolDefinition<z.infer<typeof input>, Output> = {
  name: 'list_schemas',
  title: 'List schemas',
  description: 'Lists the schemas in the database (system schemas excluded).',
  inputSchema: input,
  outputSchema: output,
  annotations: { title: 'List schemas', ...READ_ONLY_ANNOTATIONS },
  sourceOf: (i) => i.source,
  async run(_i, env) {
    const result = await env.source.driver.listSchemas(env.limits)
    if (!result.ok) return result
    // Under phase B rules, only schemas where something may be read.
    const rules = env.grant.relations
    const visible = rules === null ? result.value : result.value.filter((s) => rules.schemaVisible(s.name))
    return ok({ schemas: visible.map((s) => ({ name: s.name, owner: s.owner, comment: s.comment })) })
  },
  renderText: (o) =>
    `${o.schemas.length} schema${o.schemas.length === 1 ? '' : 's'}.\n` +
    fenceUntrusted(o.schemas.map((s) => JSON.stringify([s.name, s.owner, s.comment])).join('\n')),
}
