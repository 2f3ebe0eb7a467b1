/**
 * Builds a call's audit event from what the pipeline decided (CallOutcome and its trace), the
 * request context and the result that is about to be returned. Values from callers only ever go
 * under fixed keys, capped in length; raw SQL and parameter values only when the operator asked
 * for them, and then redacted.
 */
import type { ErrorCode } from '../errors/error-codes.js'
import type { CallOutcome } from '../pipeline/pipeline.js'
import type { RequestContext } from '../pipeline/request-context.js'
import type { AuditStage, CallEvent } from './audit-record.js'

export interface AuditContentOptions {
  readonly recordSql: boolean
  readonly recordParams: boolean
  /** Compiled redaction patterns (global). */
  readonly redact: readonly RegExp[]
}

const MAX_FIELD = 256
const MAX_SQL = 16_384
const REDACTED = '[REDACTED]'

/** Which stage decided, from the code's family: stable, since codes are. */
export function stageOf(code: ErrorCode | null): AuditStage {
  if (code === null) return 'response'
  if (code === 'ERR_TOOL_UNKNOWN') return 'tool'
  if (code === 'ERR_TOOL_INVALID_ARGUMENTS') return 'input'
  if (code.startsWith('ERR_AUTH_')) return 'authentication'
  if (code.startsWith('ERR_HTTP_')) return 'transport'
  if (code.startsWith('ERR_POLICY_')) return 'policy'
  if (code.startsWith('ERR_QUOTA_')) return 'quota'
  if (code.startsWith('ERR_SQL_')) return 'analysis'
  if (code.startsWith('ERR_AUDIT_')) return 'audit'
  if (code.startsWith('ERR_WRITE_')) return 'policy'
  return 'execution'
}

/** Refusals by a rule are `deny`; failures while running (timeouts, database errors) are `error`. */
function decisionOf(code: ErrorCode | null): CallEvent['decision'] {
  if (code === null) return 'allow'
  const stage = stageOf(code)
  return stage === 'execution' || code === 'ERR_INTERNAL' ? 'error' : 'deny'
}

export function cap(value: string, max = MAX_FIELD): string {
  return value.length <= max ? value : `${value.slice(0, max)}…`
}

export function redact(text: string, patterns: readonly RegExp[]): string {
  let out = text
  for (const pattern of patterns) out = out.replace(pattern, REDACTED)
  return out
}

interface ResultFacts {
  readonly rows: number | null
  readonly bytes: number | null
  readonly truncated: boolean | null
}

/** Rows, bytes and truncation of a tool's structured output, when it has them. */
export function resultFacts(output: unknown, bytes: number | null): ResultFacts {
  const o = (output ?? {}) as { row_count?: unknown; truncated?: unknown; tables?: unknown; schemas?: unknown; columns?: unknown }
  const rows =
    typeof o.row_count === 'number'
      ? o.row_count
      : Array.isArray(o.tables)
        ? o.tables.length
        : Array.isArray(o.schemas)
          ? o.schemas.length
          : Array.isArray(o.columns)
            ? o.columns.length
            : null
  return { rows, bytes, truncated: typeof o.truncated === 'boolean' ? o.truncated : null }
}

export interface CallEventInput {
  readonly ctx: RequestContext
  /** The tool name as requested (caller input: kept under `tool`, capped). */
  readonly toolName: string
  readonly outcome: CallOutcome | null
  /** The code returned to the client (may differ from the outcome's, e.g. ERR_INTERNAL). */
  readonly code: ErrorCode | null
  /** Bytes of the result returned. */
  readonly bytes: number | null
  readonly authMethod: CallEvent['auth_method']
  readonly args: unknown
}

export function buildCallEvent(input: CallEventInput, content: AuditContentOptions): CallEvent {
  const { ctx, outcome, code } = input
  const trace = outcome?.trace
  const analysis = trace?.analysis ?? null
  const facts = outcome?.ok === true ? resultFacts(outcome.output, input.bytes) : { rows: null, bytes: input.bytes, truncated: null }
  const args = (input.args ?? {}) as { sql?: unknown; params?: unknown }
  const event: CallEvent = {
    request_id: ctx.requestId,
    trace_id: ctx.traceId ?? null,
    principal: cap(ctx.principal.id),
    roles: ctx.principal.roles.map((r) => cap(r)),
    auth_method: input.authMethod,
    client: ctx.client === null ? null : { name: cap(ctx.client.name), version: cap(ctx.client.version) },
    transport: ctx.transport,
    source: trace?.source === null || trace?.source === undefined ? null : cap(trace.source),
    tool: cap(input.toolName),
    decision: decisionOf(code),
    reason: code,
    stage: stageOf(code),
    statement_class: analysis?.statementClass ?? null,
    fingerprint: analysis === null ? null : analysis.fingerprint,
    normalized_sql: analysis === null ? null : cap(analysis.normalizedSql, MAX_SQL),
    param_count: trace?.paramCount ?? null,
    rows: facts.rows,
    bytes: facts.bytes,
    truncated: facts.truncated,
    duration_ms: Math.round((performance.now() - ctx.startedAt) * 1000) / 1000,
    error_code: code,
  }
  if (content.recordSql && typeof args.sql === 'string') {
    ;(event as { sql?: string }).sql = cap(redact(args.sql, content.redact), MAX_SQL)
  }
  if (content.recordParams && Array.isArray(args.params)) {
    ;(event as { params?: unknown[] }).params = args.params.map((p) =>
      typeof p === 'string' ? cap(redact(p, content.redact)) : typeof p === 'number' || typeof p === 'boolean' || p === null ? p : null,
    )
  }
  return event
}

/** A request refused before it became a tool call (HTTP authentication, Host, Origin, body). */
export function refusalEvent(input: {
  readonly requestId: string
  readonly code: ErrorCode
  readonly startedAt: number
  readonly principal: { readonly id: string; readonly roles: readonly string[] } | null
  readonly authMethod: CallEvent['auth_method']
  readonly traceId: string | null
}): CallEvent {
  return {
    request_id: input.requestId,
    trace_id: input.traceId,
    principal: input.principal === null ? null : cap(input.principal.id),
    roles: input.principal?.roles.map((r) => cap(r)) ?? [],
    auth_method: input.authMethod,
    client: null,
    transport: 'http',
    source: null,
    tool: null,
    decision: 'deny',
    reason: input.code,
    stage: stageOf(input.code),
    statement_class: null,
    fingerprint: null,
    normalized_sql: null,
    param_count: null,
    rows: null,
    bytes: null,
    truncated: null,
    duration_ms: Math.round((performance.now() - input.startedAt) * 1000) / 1000,
    error_code: input.code,
  }
}
