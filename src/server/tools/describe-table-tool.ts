import { z } from 'zod'
import { relationDeps } from '../../pipeline/relation-deps.js'
import { readableRelations } from '../../policy/relation-policy.js'
import { fail, ok } from '../../util/result.js'
import { fenceUntrusted } from '../untrusted-fence.js'
import { sourceName } from './common-schemas.js'
import { READ_ONLY_ANNOTATIONS, type ToolDefinition } from './tool-definition.js'

const input = z
  .object({
    table: z.string().min(1).max(63).describe('Table or view name, as stored (case-sensitive, unquoted).'),
    schema: z.string().min(1).max(63).optional().describe('Schema; resolved through the search path when omitted.'),
    source: sourceName.optional(),
  })
  .strict()

const output = z
  .object({
    schema: z.string(),
    name: z.string(),
    kind: z.enum(['table', 'view', 'materialized_view', 'foreign_table', 'partitioned_table']),
    comment: z.string().nullable(),
    columns: z.array(
      z
        .object({
          name: z.string(),
          type: z.string(),
          nullable: z.boolean(),
          default: z.string().nullable(),
          comment: z.string().nullable(),
          /** Present when the policy masks this column for the caller: what a query returns instead. */
          mask: z.enum(['redact', 'hash', 'partial']).optional(),
        })
        .strict(),
    ),
    primary_key: z.array(z.string()),
    foreign_keys: z.array(
      z
        .object({
          name: z.string(),
          columns: z.array(z.string()),
          referenced_schema: z.string(),
          referenced_table: z.string(),
          referenced_columns: z.array(z.string()),
        })
        .strict(),
    ),
    indexes: z.array(z.object({ name: z.string(), unique: z.boolean(), primary: z.boolean(), definition: z.string() }).strict()),
  })
  .strict()

type Output = z.infer<typeof output>

export const describeTableTool: ToolDefinition<z.infer<typeof input>, Output> = {
  name: 'describe_table',
  title: 'Describe a table',
  description: 'Columns (types, nullability, defaults, comments), primary key, foreign keys and indexes of a table or view.',
  inputSchema: input,
  outputSchema: output,
  annotations: { title: 'Describe a table', ...READ_ONLY_ANNOTATIONS },
  sourceOf: (i) => i.source,
  async run(i, env) {
    const result = await env.source.driver.describeTable(i.schema ?? null, i.table, env.limits)
    if (!result.ok) return result
    const t = result.value
    const missing = fail('ERR_EXEC_UNDEFINED_OBJECT', { subject: 'table' })
    if (t === null) return missing
    const rules = env.grant.relations
    // A table this call may not read is described exactly like one that does not exist.
    const readable = await readableRelations([t], rules, env.grant.functions, relationDeps(env.source))
    if (!readable.ok) return readable
    if (readable.value[0] !== true) return missing
    const ruleOf = (column: string) => rules?.columnRule(t.schema, t.name, column) ?? { kind: 'allow' as const }
    const denied = new Set(t.columns.filter((c) => ruleOf(c.name).kind === 'deny').map((c) => c.name))
    const shows = (columns: readonly string[]) => columns.every((c) => !denied.has(c))
    // Index definitions are text: with any denied column, none is shown rather than parsed.
    const indexes = denied.size === 0 ? t.indexes : []
    const foreignKeys = t.foreignKeys.filter(
      (f) =>
        shows(f.columns) &&
        (rules === null ||
          (rules.relationAllowed(f.referencedSchema, f.referencedTable) &&
            f.referencedColumns.every((c) => rules.columnRule(f.referencedSchema, f.referencedTable, c).kind !== 'deny'))),
    )
    return ok({
      schema: t.schema,
      name: t.name,
      kind: t.kind,
      comment: t.comment,
      columns: t.columns
        .filter((c) => !denied.has(c.name))
        .map((c) => {
          const rule = ruleOf(c.name)
          return {
            name: c.name,
            type: rule.kind === 'allow' ? c.type : 'text',
            nullable: c.nullable,
            default: c.default,
            comment: c.comment,
            ...(rule.kind === 'allow' || rule.kind === 'deny' ? {} : { mask: rule.kind }),
          }
        }),
      primary_key: shows(t.primaryKey) ? [...t.primaryKey] : [],
      foreign_keys: foreignKeys.map((f) => ({
        name: f.name,
        columns: [...f.columns],
        referenced_schema: f.referencedSchema,
        referenced_table: f.referencedTable,
        referenced_columns: [...f.referencedColumns],
      })),
      indexes: indexes.map((x) => ({ name: x.name, unique: x.unique, primary: x.primary, definition: x.definition })),
    })
  },
  renderText: (o) => {
    const lines = [
      JSON.stringify({ table: `${o.schema}.${o.name}`, kind: o.kind, comment: o.comment }),
      ...o.columns.map((c) =>
        JSON.stringify([c.name, c.type, c.nullable ? 'null' : 'not null', c.default, c.comment, ...(c.mask ? [`masked: ${c.mask}`] : [])]),
      ),
      JSON.stringify({ primary_key: o.primary_key }),
      ...o.foreign_keys.map((f) => JSON.stringify({ foreign_key: f })),
      ...o.indexes.map((x) => JSON.stringify({ index: x.definition })),
    ]
    return `${o.columns.length} column${o.columns.length === 1 ? '' : 's'} (name, type, nullability, default, comment).\n${fenceUntrusted(lines.join('\n'))}`
  },
}
