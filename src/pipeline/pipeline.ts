/**
 * The pipeline: the one module that knows the order of the stages (DESIGN §2). Every tool call,
 * whatever the tool, takes this path, and each stage can only narrow what happens next:
 *
 *   tool lookup → input validation → policy phase A (principal × source × tool) → source
 *     → limits → [tools carrying SQL] SQL analysis → parameter check → function policy
 *     → policy phase B (relations, columns, masks; may rewrite the statement) → tool step
 *     (execution) → outcome
 *
 * Nothing reaches a database before every earlier stage has allowed it (I1). Stages return
 * Results; an exception escaping a stage is a bug and becomes ERR_INTERNAL (fail closed), with the
 * cause logged to stderr only.
 */
import type { LimitsConfig } from '../config/config-schema.js'
import type { CallLimits } from '../exec/drivers/driver.js'
import type { Logger } from '../log/logger.js'
import type { CompiledPolicy, ToolGrant } from '../policy/compile-policy.js'
import { checkFunctions } from '../policy/function-policy.js'
import { checkRelations, type RelationPlan } from '../policy/relation-policy.js'
import { rewriteRelations } from '../policy/relation-rewrite.js'
import { createHash } from 'node:crypto'
import { AnalysisCache } from '../sql/analysis-cache.js'
import type { AnyToolDefinition } from '../server/tools/tool-definition.js'
import { findTool } from '../server/tools/tool-registry.js'
import { analyzeSql } from '../sql/analyze-sql.js'
import type { QueryAnalysis } from '../sql/query-analysis.js'
import { fail, ok, type Fail, type Result } from '../util/result.js'
import type { Principal, RequestContext } from './request-context.js'
import { relationDeps } from './relation-deps.js'
import type { SourceHandle, SourceRegistry } from './source-handle.js'

export interface PipelineDeps {
  readonly sources: SourceRegistry
  readonly limits: LimitsConfig
  readonly logger: Logger
  /** Accepted analyses by SQL text; analysis is pure, so a hit skips the parse. */
  readonly analysisCache: AnalysisCache
  /** Phase A authorization and per-role limits and database role. */
  readonly policy: CompiledPolicy
}

export interface ToolCall {
  readonly name: string
  readonly args: unknown
  readonly ctx: RequestContext
}

export interface CallSuccess {
  readonly ok: true
  readonly tool: AnyToolDefinition
  readonly output: unknown
}

export type CallOutcome = CallSuccess | (Fail & { readonly tool: AnyToolDefinition | null })

export async function runToolCall(deps: PipelineDeps, call: ToolCall): Promise<CallOutcome> {
  const tool = findTool(call.name)
  if (tool === undefined) return { ...fail('ERR_TOOL_UNKNOWN'), tool: null }
  try {
    const result = await runKnownTool(deps, tool, call)
    return result.ok ? { ok: true, tool, output: result.value } : { ...result, tool }
  } catch (error) {
    deps.logger.error({ err: error, requestId: call.ctx.requestId, tool: tool.name }, 'pipeline stage threw')
    return { ...fail('ERR_INTERNAL', { cause: error }), tool }
  }
}

/** Everything the stages decided about a call, short of running it. */
export interface CallDecision {
  readonly tool: AnyToolDefinition
  readonly input: unknown
  readonly source: SourceHandle
  readonly limits: CallLimits
  readonly analysis: QueryAnalysis | null
  readonly grant: ToolGrant
  /** True when phase B replaced the caller's statement by one reading through column projections. */
  readonly rewritten: boolean
}

async function runKnownTool(deps: PipelineDeps, tool: AnyToolDefinition, call: ToolCall): Promise<Result<unknown>> {
  const decided = await decide(deps, tool, call)
  if (!decided.ok) return decided
  if (call.ctx.signal.aborted) return fail('ERR_EXEC_CANCELLED')
  const { input, source, limits, analysis, grant } = decided.value
  return tool.run(input, { ctx: call.ctx, source, limits, analysis, grant })
}

/**
 * Every stage up to execution, and nothing after: `sqlwarden policy explain` shows this decision
 * without running the query. The same code path as a real call, so the two cannot disagree.
 */
export async function explainToolCall(deps: PipelineDeps, call: ToolCall): Promise<Result<CallDecision>> {
  const tool = findTool(call.name)
  if (tool === undefined) return fail('ERR_TOOL_UNKNOWN')
  return decide(deps, tool, call)
}

async function decide(deps: PipelineDeps, tool: AnyToolDefinition, call: ToolCall): Promise<Result<CallDecision>> {
  const parsed = tool.inputSchema.safeParse(call.args ?? {})
  if (!parsed.success) return invalidArguments(tool, parsed.error.issues)
  const input: unknown = parsed.data

  const sourceName = tool.sourceOf(input) ?? deps.sources.defaultSource
  // Phase A, before any SQL is parsed: principal × source × tool. A source the principal may not
  // use is refused the same way whether or not it exists.
  const grant = deps.policy.authorize(call.ctx.principal, sourceName, tool.name)
  if (!grant.ok) return grant
  const source = deps.sources.get(sourceName)
  if (source === undefined) return fail('ERR_SOURCE_UNKNOWN')

  const limits = callLimits(deps.limits, tool.maxRowsOf?.(input), grant.value, call.ctx.principal)

  let analysis: QueryAnalysis | null = null
  let rewritten = false
  if (tool.sqlOf !== undefined) {
    const carried = tool.sqlOf(input)
    const analysed = await analyseCarriedSql(deps, source, grant.value, carried.sql, carried.params.length)
    if (!analysed.ok) return analysed
    analysis = analysed.value.analysis
    rewritten = analysed.value.rewritten
  }
  return ok({ tool, input, source, limits, analysis, grant: grant.value, rewritten })
}

async function analyseCarriedSql(
  deps: PipelineDeps,
  source: SourceHandle,
  grant: ToolGrant,
  sql: string,
  paramCount: number,
): Promise<Result<{ readonly analysis: QueryAnalysis; readonly rewritten: boolean }>> {
  let analysis = deps.analysisCache.get(sql)
  if (analysis === undefined) {
    const analysed = analyzeSql(sql, deps.limits)
    if (!analysed.ok) return analysed
    analysis = analysed.value
    deps.analysisCache.set(sql, analysis)
  }
  // The engine would also refuse a mismatch, but with driver text; refuse it here with a stable code.
  if (analysis.maxParamIndex !== paramCount) {
    return fail('ERR_SQL_PARAMS_MISMATCH', { data: { expected: analysis.maxParamIndex, given: paramCount } })
  }
  const functionDeps = {
    cache: source.catalogCache,
    lookupFunctions: (names: readonly string[]) => source.driver.lookupFunctions(names),
    lookupOperators: (names: readonly string[]) => source.driver.lookupOperators(names),
    allowFunctions: grant.functions.size === 0 ? source.allowFunctions : [...source.allowFunctions, ...grant.functions],
    searchPath: source.searchPath,
    onlyUserFunctions: grant.relations === null ? null : grant.functions,
  }
  const functions = await checkFunctions(analysis, functionDeps)
  if (!functions.ok) return functions

  // Phase B on relations: may this call read what the statement names, and through which columns?
  const plan = await checkRelations(analysis, grant.relations, grant.functions, relationDeps(source))
  if (!plan.ok) return plan
  if (plan.value.wraps.length === 0 || grant.relations === null) return ok({ analysis, rewritten: false })
  const rewritten = rewriteFor(deps, grant.relations.key, plan.value, analysis)
  if (!rewritten.ok) return rewritten
  // The projections call only pg_catalog built-ins; check them like any other statement's.
  const again = await checkFunctions(rewritten.value, functionDeps)
  return again.ok ? ok({ analysis: rewritten.value, rewritten: true }) : again
}

const rewriteCaches = new WeakMap<PipelineDeps, AnalysisCache>()

/** Rewritten statements by rules, plan and text: the rewrite parses twice, a hit parses never. */
function rewriteFor(deps: PipelineDeps, rulesKey: string, plan: RelationPlan, analysis: QueryAnalysis): Result<QueryAnalysis> {
  let cache = rewriteCaches.get(deps)
  if (cache === undefined) rewriteCaches.set(deps, (cache = new AnalysisCache(1_000, 16_384)))
  const planKey = createHash('sha256').update(JSON.stringify(plan.wraps)).digest('base64url')
  const key = `${rulesKey}\u0000${planKey}\u0000${analysis.statementText}`
  const hit = cache.get(key)
  if (hit !== undefined) return ok(hit)
  const rewritten = rewriteRelations(analysis.statementText, plan, deps.limits)
  if (rewritten.ok) cache.set(key, rewritten.value)
  return rewritten
}

/**
 * The strictest of the configured limits, the policy grant's, and the call's own `max_rows` (which
 * can only lower them), with the identity the call runs as in the database.
 */
export function callLimits(
  config: LimitsConfig,
  requestedMaxRows: number | undefined,
  grant: ToolGrant,
  principal: Principal,
): CallLimits {
  const maxRows = Math.min(config.maxRows, grant.maxRows ?? Infinity, requestedMaxRows ?? Infinity)
  return {
    maxRows,
    maxBytes: config.maxBytes,
    statementTimeoutMs: Math.min(config.statementTimeoutMs, grant.statementTimeoutMs ?? Infinity),
    identity: { dbRole: grant.dbRole, principal: principal.id, ...(principal.claims ? { claims: principal.claims } : {}) },
  }
}

/**
 * Only names from the tool's own schema may appear in the subject; an unknown key is caller
 * input and is not echoed.
 */
function invalidArguments(tool: AnyToolDefinition, issues: readonly { code: string; path: readonly PropertyKey[] }[]): Fail {
  const issue = issues[0]
  const known = new Set(Object.keys((tool.inputSchema as unknown as { shape?: object }).shape ?? {}))
  const field = issue?.path[0]
  const subject =
    issue?.code === 'unrecognized_keys'
      ? 'unrecognized_keys'
      : typeof field === 'string' && known.has(field)
        ? `${field}: ${issue?.code ?? 'invalid'}`
        : (issue?.code ?? 'invalid')
  return fail('ERR_TOOL_INVALID_ARGUMENTS', { subject })
}
