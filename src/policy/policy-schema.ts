/**
 * The policy file (YAML, strict: unknown keys are refused). Version 1 covers who may use which
 * source and tool, the database role a call runs as, and per-role limits. Table, column, mask and
 * write rules are the next versions' (issue 3).
 *
 *   version: 1
 *   principals: { alice: [analyst] }          # extra roles by principal, besides token/key roles
 *   roles:
 *     analyst:
 *       sources:
 *         shop:                                # or "*" for every source
 *           tools: [query, list_tables]        # default: every read tool
 *           dbRole: sw_analyst                 # SET LOCAL ROLE for each call; never from input
 *           limits: { maxRows: 100, statementTimeoutMs: 5s }
 */
import { z } from 'zod'
import { parseDuration } from '../config/duration.js'

export const POLICY_TOOLS = ['query', 'list_schemas', 'list_tables', 'describe_table', 'explain'] as const

const name = z.string().regex(/^[A-Za-z0-9_.@-]{1,128}$/, 'expected 1-128 of A-Z a-z 0-9 _ . @ -')
const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/, 'expected a plain SQL identifier')
const duration = z.union([z.string(), z.number().int().positive()]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v : parseDuration(v)
  if (ms === null || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration such as 500ms, 30s or 2m' })
    return z.NEVER
  }
  return ms
})

export const sourceGrantSchema = z
  .object({
    tools: z.array(z.enum(POLICY_TOOLS)).min(1).optional(),
    dbRole: identifier.optional(),
    limits: z
      .object({ maxRows: z.number().int().min(1).optional(), statementTimeoutMs: duration.optional() })
      .strict()
      .optional(),
  })
  .strict()

export const policySchema = z
  .object({
    version: z.literal(1),
    principals: z.record(name, z.array(name).min(1)).default({}),
    roles: z.record(name, z.object({ sources: z.record(z.union([identifier, z.literal('*')]), sourceGrantSchema) }).strict()),
  })
  .strict()

export type PolicyDocument = z.output<typeof policySchema>
export type SourceGrant = z.output<typeof sourceGrantSchema>
