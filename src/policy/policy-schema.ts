/**
 * The policy file (YAML, strict: unknown keys are refused). Version 1 covers who may use which
 * source and tool, the database role a call runs as, per-role limits, and (phase B, on the parsed
 * statement) which schemas, tables and columns a role reads, with column masks and extra functions.
 * Names are as the catalog stores them: `public.customers`, case-sensitive.
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
 *           tables: { allow: [public.customers, public.products] }   # or schemas: { allow: [public] }
 *           columns: { public.customers: { deny: [phone] } }
 *           masks: { public.customers: { email: hash } }   # redact | hash | { partial: { keepLast: 4 } }
 *           functions: [public.fx_rate]                     # user functions this role may call
 *           access: { write: [insert, update] }             # default `read`; see docs/policy.md "Writes"
 *           maxCost: 10000                                  # EXPLAIN cost ceiling per query (ERR_QUOTA_COST)
 *           quotas: { calls: { limit: 20, window: 1m }, concurrency: 2 }   # docs/quotas.md
 */
import { z } from 'zod'
import { parseDuration } from '../config/duration.js'
import { quotasSchema } from '../quota/quota-schema.js'

/** The read tools: what a grant without `tools` gets. */
export const POLICY_TOOLS = ['query', 'list_schemas', 'list_tables', 'describe_table', 'explain'] as const
/** Tools that write: never in a default tool set; granted only with `access: { write: [...] }`. */
export const WRITE_TOOLS = ['execute'] as const
/**
 * The write classes a grant can name. DDL (CREATE, ALTER, DROP, TRUNCATE, GRANT…), MERGE, COPY and
 * utility statements are not write classes: no policy can allow them (analysis refuses them).
 */
export const POLICY_WRITE_CLASSES = ['insert', 'update', 'delete'] as const

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

/** `schema.name`, each part a plain identifier as the catalog stores it. */
const qualifiedName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_$]{0,62}\.[A-Za-z_][A-Za-z0-9_$]{0,62}$/, 'expected schema.name (plain identifiers)')

const allowDeny = <T extends z.ZodTypeAny>(item: T) =>
  z
    .object({ allow: z.array(item).optional(), deny: z.array(item).optional() })
    .strict()
    .refine((v) => v.allow !== undefined || v.deny !== undefined, 'expected allow, deny, or both')

export const maskSchema = z.union([
  z.literal('redact'),
  z.literal('hash'),
  z
    .object({
      partial: z
        .object({ keepFirst: z.number().int().min(0).max(32).default(0), keepLast: z.number().int().min(0).max(32).default(0) })
        .strict()
        .refine((p) => p.keepFirst + p.keepLast > 0, 'keep at least one character, or use redact'),
    })
    .strict(),
])

/** `read` (the default), or `{ write: [insert, update, delete] }`: a non-empty set of write classes. */
const accessSchema = z.union([
  z.literal('read'),
  z
    .object({
      write: z
        .array(z.enum(POLICY_WRITE_CLASSES))
        .min(1)
        .refine((classes) => new Set(classes).size === classes.length, 'each write class at most once'),
    })
    .strict(),
])

export const sourceGrantSchema = z
  .object({
    tools: z.array(z.enum([...POLICY_TOOLS, ...WRITE_TOOLS])).min(1).optional(),
    /** Writes are off unless granted here (docs/policy.md "Writes"). */
    access: accessSchema.optional(),
    /** Phase B. Any of these four makes the grant restricted: see docs/policy.md. */
    schemas: allowDeny(identifier).optional(),
    tables: allowDeny(qualifiedName).optional(),
    columns: z.record(qualifiedName, allowDeny(identifier)).optional(),
    masks: z.record(qualifiedName, z.record(identifier, maskSchema)).optional(),
    /** User functions (`schema.name`) this role may call beyond the source's reviewed defaults. */
    functions: z.array(qualifiedName).optional(),
    dbRole: identifier.optional(),
    /**
     * Cost ceiling per `query`: PostgreSQL's estimated total cost of the plan (EXPLAIN, never
     * ANALYZE). Above it, ERR_QUOTA_COST with the estimate. The strictest of the config's
     * `limits.maxCost` and every granting role's applies (README "Cost ceiling", decision D25).
     */
    maxCost: z.number().positive().finite().optional(),
    /**
     * Rates, concurrency and budgets for this role on this source (docs/quotas.md). Every granting
     * role's quotas and the config's `quotas.defaults` apply together: the strictest wins.
     */
    quotas: quotasSchema.optional(),
    /**
     * Session settings for row-level security, set for every call of this role on this source
     * like a principal's claims: `current_setting('sqlwarden.claim.<name>')`. A principal claim of
     * the same name with another value, or two granting roles that disagree, refuse the call.
     */
    settings: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'expected a lower-case identifier'), z.string().max(256)).optional(),
    limits: z
      .object({ maxRows: z.number().int().min(1).optional(), statementTimeoutMs: duration.optional() })
      .strict()
      .optional(),
  })
  .strict()
  // `execute` is the write tool: listing it without write access is a mistake, not a no-op.
  .refine((g) => !(g.tools?.includes('execute') === true && (g.access === undefined || g.access === 'read')), {
    message: 'tools lists execute, but access is read: grant access: { write: [insert, update, delete] } (a subset)',
    path: ['tools'],
  })

export const policySchema = z
  .object({
    version: z.literal(1),
    principals: z.record(name, z.array(name).min(1)).default({}),
    roles: z.record(name, z.object({ sources: z.record(z.union([identifier, z.literal('*')]), sourceGrantSchema) }).strict()),
  })
  .strict()

export type PolicyDocument = z.output<typeof policySchema>
export type SourceGrant = z.output<typeof sourceGrantSchema>
export type MaskSpec = z.output<typeof maskSchema>
