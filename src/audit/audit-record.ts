/**
 * The audit record, schema version 1 (docs/audit-logging.md). One `call` record per tool call,
 * whatever its outcome; `start` records open a chain segment (process start, with the config and
 * policy hashes, linking to the last record on disk) and `rotate` records open a new file of the
 * same chain. Every field name is fixed here: values that come from callers (SQL, principal
 * names, client names) only ever sit under these keys.
 *
 * `hash` covers the canonical JSON of every other field, `prev` included (audit-chain.ts).
 */
import { z } from 'zod'

export const AUDIT_SCHEMA_VERSION = 1

export const DECISIONS = ['allow', 'deny', 'error'] as const
export const STAGES = [
  'transport',
  'authentication',
  'tool',
  'input',
  'policy',
  'quota',
  'analysis',
  'execution',
  'audit',
  'response',
] as const
export type AuditStage = (typeof STAGES)[number]

/** What the chain's links and hashes cover, common to every kind. */
const chainFields = {
  v: z.literal(AUDIT_SCHEMA_VERSION),
  /** Chain id: one per writer (a process's chain continues across restarts through `start`). */
  chain: z.string(),
  seq: z.number().int().nonnegative(),
  time: z.string(),
  prev: z.string(),
  /** `sha256` or `hmac-sha256` (keyed: a writer without the key cannot forge the chain). */
  alg: z.enum(['sha256', 'hmac-sha256']),
  /** `write` (survives a process crash) or `fsync` (survives an OS crash). */
  durability: z.enum(['write', 'fsync']),
  hash: z.string(),
}

export const callRecordSchema = z
  .object({
    ...chainFields,
    kind: z.literal('call'),
    request_id: z.string(),
    trace_id: z.string().nullable(),
    principal: z.string().nullable(),
    roles: z.array(z.string()),
    auth_method: z.enum(['stdio', 'api_key', 'oauth', 'none']).nullable(),
    client: z.object({ name: z.string(), version: z.string() }).strict().nullable(),
    transport: z.enum(['stdio', 'http']),
    source: z.string().nullable(),
    tool: z.string().nullable(),
    decision: z.enum(DECISIONS),
    reason: z.string().nullable(),
    stage: z.enum(STAGES),
    statement_class: z.string().nullable(),
    fingerprint: z.string().nullable(),
    normalized_sql: z.string().nullable(),
    param_count: z.number().int().nonnegative().nullable(),
    rows: z.number().int().nonnegative().nullable(),
    bytes: z.number().int().nonnegative().nullable(),
    truncated: z.boolean().nullable(),
    duration_ms: z.number().nonnegative(),
    error_code: z.string().nullable(),
    policy_hash: z.string(),
    /** Only when the operator turns it on, after redaction (audit.recordSql / recordParams). */
    sql: z.string().optional(),
    params: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
  })
  .strict()

export const startRecordSchema = z
  .object({
    ...chainFields,
    kind: z.literal('start'),
    config_hash: z.string(),
    policy_hash: z.string(),
    version: z.string(),
    /** Bytes of an unterminated last line found on disk at start (a crash mid-write). */
    torn_tail_bytes: z.number().int().nonnegative().optional(),
  })
  .strict()

export const rotateRecordSchema = z
  .object({
    ...chainFields,
    kind: z.literal('rotate'),
    /** The file the chain continues from. */
    previous_file: z.string(),
  })
  .strict()

export const auditRecordSchema = z.discriminatedUnion('kind', [callRecordSchema, startRecordSchema, rotateRecordSchema])

export type CallRecord = z.output<typeof callRecordSchema>
export type StartRecord = z.output<typeof startRecordSchema>
export type RotateRecord = z.output<typeof rotateRecordSchema>
export type AuditRecord = z.output<typeof auditRecordSchema>

/** What a caller fills in for a call; the chain fields are the writer's. */
export type CallEvent = Omit<CallRecord, keyof typeof chainFields | 'kind' | 'policy_hash'>
