/**
 * The only place tool results are built. A success carries `structuredContent` (matching the tool's
 * outputSchema) and compact text; a refusal or failure carries `isError: true` and text that starts
 * with a stable code and its fixed catalog message. No driver message, SQLSTATE detail, hint, stack,
 * DSN or password can reach this function's output: it reads only the code, the allow-listed
 * subject and numeric data (I5).
 */
import { ERROR_CATALOG, type ErrorCode } from '../errors/error-codes.js'
import type { CallOutcome } from '../pipeline/pipeline.js'

export interface ToolResult {
  [key: string]: unknown
  content: { type: 'text'; text: string }[]
  structuredContent?: Record<string, unknown>
  isError?: boolean
  _meta?: Record<string, unknown>
}

export function toToolResult(outcome: CallOutcome, requestId: string): ToolResult {
  if (outcome.ok) {
    return {
      content: [{ type: 'text', text: outcome.tool.renderText(outcome.output) }],
      structuredContent: outcome.output as Record<string, unknown>,
    }
  }
  return errorResult(outcome.code, requestId, outcome.subject, outcome.data)
}

export function errorResult(
  code: ErrorCode,
  requestId: string,
  subject?: string,
  data?: Readonly<Record<string, number | string | boolean>>,
): ToolResult {
  const spec = ERROR_CATALOG[code]
  const detail = subject === undefined ? '' : ` (${subject})`
  const extra = data === undefined ? '' : ` ${Object.entries(data).map(([k, v]) => `${k}=${String(v)}`).join(' ')}`
  return {
    content: [{ type: 'text', text: `${code}: ${spec.message}${detail}.${extra} [request ${requestId}]` }],
    isError: true,
    _meta: {
      'sqlwarden/error': {
        code,
        retryable: spec.retryable,
        requestId,
        ...(subject === undefined ? {} : { subject }),
        ...(data === undefined ? {} : { data }),
      },
    },
  }
}
