/**
 * What a tool is: its contract (name, strict input schema, output schema, annotations) and the
 * tool-specific step that runs after the pipeline's shared stages. Tools never throw and never build
 * client errors themselves: they return a Result, and `to-tool-result.ts` renders it.
 */
import type { z } from 'zod'
import type { CallLimits, SqlParam } from '../../exec/drivers/driver.js'
import type { RequestContext } from '../../pipeline/request-context.js'
import type { SourceHandle } from '../../pipeline/source-handle.js'
import type { ToolGrant } from '../../policy/compile-policy.js'
import type { QueryAnalysis } from '../../sql/query-analysis.js'
import type { Result } from '../../util/result.js'

export interface ToolAnnotations {
  readonly title: string
  readonly readOnlyHint: boolean
  readonly destructiveHint: boolean
  readonly idempotentHint: boolean
  readonly openWorldHint: boolean
}

export interface ToolEnv {
  readonly ctx: RequestContext
  readonly source: SourceHandle
  readonly limits: CallLimits
  /**
   * Present for tools that carry SQL: the accepted analysis of the statement to run. Under column
   * rules this is the rewritten statement (policy/relation-rewrite.ts), never the caller's text.
   */
  readonly analysis: QueryAnalysis | null
  /** What the policy granted this call: listing tools show only what it may read. */
  readonly grant: ToolGrant
}

export interface ToolDefinition<I = unknown, O = unknown> {
  readonly name: string
  readonly title: string
  readonly description: string
  readonly inputSchema: z.ZodType<I>
  readonly outputSchema: z.ZodType<O>
  readonly annotations: ToolAnnotations
  /** The SQL and parameters a tool carries, so the pipeline can analyse them before `run`. */
  readonly sqlOf?: (input: I) => { readonly sql: string; readonly params: readonly SqlParam[] }
  /**
   * The tool writes (`execute`): its SQL goes through the write analysis and write policy, and it
   * runs only after the user confirmed exactly that statement (pipeline.ts). Absent: a read tool.
   */
  readonly writes?: true
  /** The per-call row cap the caller asked for (can only lower the configured cap). */
  readonly maxRowsOf?: (input: I) => number | undefined
  /** Which source the call names (optional `source` argument). */
  readonly sourceOf: (input: I) => string | undefined
  run(input: I, env: ToolEnv): Promise<Result<O>>
  /** Compact text for the `content` array. Database-derived strings go inside the untrusted fence. */
  renderText(output: O): string
}

/** Erases the type parameters for the registry; each definition is type-checked where it is written. */
export type AnyToolDefinition = ToolDefinition<any, any>

export const READ_ONLY_ANNOTATIONS = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
} as const
