/**
 * The pipeline: the one module that knows the order of the stages (DESIGN §2). Every tool call,
 * whatever the tool, takes this path, and each stage can only narrow what happens next:
 *
 *   tool lookup → input validation → policy phase A (principal × source × tool) → source
 *     → quota reservation (rates, concurrency, budgets; not for policy explain) → limits
 *     → [tools carrying SQL] SQL analysis → parameter check → function policy
 *     → policy phase B (relations, columns, masks; may rewrite the statement) → [query] cost
 *     ceiling (EXPLAIN) → tool step (execution) → outcome
 *
 * Nothing reaches a database before every earlier stage has allowed it (I1). Stages return
 * Results; an exception escaping a stage is a bug and becomes ERR_INTERNAL (fail closed), with the
 * cause logged to stderr only.
 */
import type { AuditRuntime } from '../audit/open-audit.js'
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
import { analyzeSql, analyzeWriteSql } from '../sql/analyze-sql.js'
import { checkWriteClasses, checkWriteTarget } from '../policy/write-policy.js'
import { costCeiling, enforceCostCeiling } from '../quota/cost-ceiling.js'
import { bytesOf, rowsOf } from '../quota/call-usage.js'
import type { Admission, QuotaEngine } from '../quota/quota-engine.js'
import type { QueryAnalysis } from '../sql/query-analysis.js'
import { fail, ok, type Fail, type Result } from '../util/result.js'
import type { ConfirmationVerdict, Principal, RequestContext, WriteConfirmationRequest } from './request-context.js'
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
  /** The audit trail; absent or null when audit is off. Written by the server layer (write-ahead). */
  readonly audit?: AuditRuntime | null
  /** Quotas (src/quota); absent or null when none is configured. */
  readonly quota?: QuotaEngine | null
}

export interface ToolCall {
  readonly name: string
  readonly args: unknown
  readonly ctx: RequestContext
}

/**
 * What the stages learned about a call, however far it got: the audit record is built from this
 * (source, the caller's statement as analysed, its parameter count), never from raw input.
 */
export interface CallTrace {
  source: string | null
  /** The caller's statement as analysed (before any phase B projection). */
  analysis: QueryAnalysis | null
  paramCount: number | null
}

export interface CallSuccess {
  readonly ok: true
  readonly tool: AnyToolDefinition
  readonly output: unknown
  /** Always set by runToolCall. */
  readonly trace?: CallTrace
}

export type CallOutcome =
  | CallSuccess
  | (Fail & {
      readonly tool: AnyToolDefinition | null
      readonly trace?: CallTrace
      /**
       * A write waiting for the user's confirmation (2026-07-28): the transport answers this round
       * with this input-required result. The outcome is a refusal (ERR_WRITE_CONFIRMATION_REQUIRED)
       * for anything that does not know this field, so it fails closed.
       */
      readonly inputRequired?: unknown
    })

export async function runToolCall(deps: PipelineDeps, call: ToolCall): Promise<CallOutcome> {
  const trace: CallTrace = { source: null, analysis: null, paramCount: null }
  const tool = findTool(call.name)
  if (tool === undefined) return { ...fail('ERR_TOOL_UNKNOWN'), tool: null, trace }
  try {
    const result = await runKnownTool(deps, tool, call, trace)
    return result.ok ? { ok: true, tool, output: result.value, trace } : { ...result, tool, trace }
  } catch (error) {
    deps.logger.error({ err: error, requestId: call.ctx.requestId, tool: tool.name }, 'pipeline stage threw')
    return { ...fail('ERR_INTERNAL', { cause: error }), tool, trace }
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

/** The call's quota admission, once the quota stage granted it; released when the call ends. */
interface QuotaHold {
  admission: Admission | null
}

async function runKnownTool(
  deps: PipelineDeps,
  tool: AnyToolDefinition,
  call: ToolCall,
  trace: CallTrace,
): Promise<Result<unknown> | (Fail & { readonly inputRequired: unknown })> {
  const hold: QuotaHold = { admission: null }
  try {
    return await runAdmittedTool(deps, tool, call, trace, hold)
  } finally {
    // Concurrency slots go back whatever happened (refusal, error, abort, exception).
    await hold.admission?.release()
  }
}

async function runAdmittedTool(
  deps: PipelineDeps,
  tool: AnyToolDefinition,
  call: ToolCall,
  trace: CallTrace,
  hold: QuotaHold,
): Promise<Result<unknown> | (Fail & { readonly inputRequired: unknown })> {
  const decided = await decide(deps, tool, call, trace, hold)
  if (!decided.ok) return decided
  if (call.ctx.signal.aborted) return fail('ERR_EXEC_CANCELLED')
  const { input, source, analysis, grant } = decided.value
  // Cost ceiling (D25): EXPLAIN as the call's role, refused above the ceiling before it runs.
  const costed = await enforceCostCeiling({
    tool: tool.name,
    analysis,
    params: tool.sqlOf?.(input).params ?? [],
    driver: source.driver,
    limits: decided.value.limits,
    maxCost: costCeiling(deps.limits, grant),
    signal: call.ctx.signal,
  })
  if (!costed.ok) return costed
  const limits = costed.value
  if (tool.writes === true) {
    // The last stage before a write: the user confirms exactly this statement (I13).
    const verdict = await confirmWrite(call.ctx, tool, decided.value, trace)
    if (verdict.kind === 'input_required') return { ...fail('ERR_WRITE_CONFIRMATION_REQUIRED'), inputRequired: verdict.result }
    if (verdict.kind === 'refused') return fail(verdict.code, verdict.subject === undefined ? {} : { subject: verdict.subject })
    if (call.ctx.signal.aborted) return fail('ERR_EXEC_CANCELLED')
  }
  const admission = hold.admission
  if (admission === null) return tool.run(input, { ctx: call.ctx, source, limits, analysis, grant })
  // Budgets: the call returns at most what is left of them, and is charged what it used.
  const capped = { ...limits, maxRows: Math.min(limits.maxRows, admission.maxRows), maxBytes: Math.min(limits.maxBytes, admission.maxBytes) }
  return runMetered(admission, tool.writes === true, () => tool.run(input, { ctx: call.ctx, source, limits: capped, analysis, grant }))
}

/**
 * Runs the tool step and charges the call's budgets: rows and bytes returned, and the database
 * time measured around the step (failures included: a statement that timed out used its time).
 * A read whose usage cannot be charged (the store went away meanwhile) is withheld: fail closed.
 * A write has committed by then, so its result is returned.
 */
async function runMetered(admission: Admission, writes: boolean, run: () => Promise<Result<unknown>>): Promise<Result<unknown>> {
  if (!admission.metered) return run()
  const started = performance.now()
  const result = await run()
  const dbTimeMs = Math.ceil(performance.now() - started)
  const charged = await admission.charge({
    rows: result.ok ? rowsOf(result.value) : 0,
    bytes: result.ok ? bytesOf(result.value, admission.needs) : 0,
    dbTimeMs,
  })
  return !charged.ok && result.ok && !writes ? charged : result
}

/**
 * Every stage up to execution, and nothing after: `sqlwarden policy explain` shows this decision
 * without running the query. The same code path as a real call, so the two cannot disagree.
 */
export async function explainToolCall(deps: PipelineDeps, call: ToolCall): Promise<Result<CallDecision>> {
  const tool = findTool(call.name)
  if (tool === undefined) return fail('ERR_TOOL_UNKNOWN')
  // No quota hold: explaining a call reserves, takes and charges nothing.
  return decide(deps, tool, call, { source: null, analysis: null, paramCount: null }, null)
}

async function decide(
  deps: PipelineDeps,
  tool: AnyToolDefinition,
  call: ToolCall,
  trace: CallTrace,
  hold: QuotaHold | null,
): Promise<Result<CallDecision>> {
  const parsed = tool.inputSchema.safeParse(call.args ?? {})
  if (!parsed.success) return invalidArguments(tool, parsed.error.issues)
  const input: unknown = parsed.data

  const sourceName = tool.sourceOf(input) ?? deps.sources.defaultSource
  trace.source = sourceName
  // Phase A, before any SQL is parsed: principal × source × tool. A source the principal may not
  // use is refused the same way whether or not it exists.
  const grant = deps.policy.authorize(call.ctx.principal, sourceName, tool.name)
  if (!grant.ok) return grant
  const source = deps.sources.get(sourceName)
  if (source === undefined) return fail('ERR_SOURCE_UNKNOWN')
  // The embedded demo never writes (its worker is read-only by design): refuse before asking anyone.
  if (tool.writes === true && source.kind === 'embedded') return fail('ERR_WRITE_SOURCE_READ_ONLY')
  // Quota reservation (DESIGN §2 step 6): principal, source and tool are known; no SQL is parsed yet.
  if (hold !== null && deps.quota) {
    const admitted = await deps.quota.admit({
      principal: call.ctx.principal,
      source: sourceName,
      tool: tool.name,
      grantQuotas: grant.value.quotas ?? [],
      signal: call.ctx.signal,
    })
    if (!admitted.ok) return admitted
    hold.admission = admitted.value
  }

  // The policy's RLS settings join the principal's claims; a claim that says otherwise refuses.
  const claims = call.ctx.principal.claims ?? {}
  for (const [name, value] of Object.entries(grant.value.settings ?? {})) {
    if (claims[name] !== undefined && claims[name] !== value) return fail('ERR_POLICY_DENIED', { subject: 'conflicting_settings' })
  }
  const limits = callLimits(deps.limits, tool.maxRowsOf?.(input), grant.value, call.ctx.principal)

  let analysis: QueryAnalysis | null = null
  let rewritten = false
  if (tool.sqlOf !== undefined) {
    const carried = tool.sqlOf(input)
    trace.paramCount = carried.params.length
    const analysed = await analyseCarriedSql(deps, source, grant.value, carried.sql, carried.params.length, trace, tool.writes === true)
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
  trace: CallTrace,
  writes: boolean,
): Promise<Result<{ readonly analysis: QueryAnalysis; readonly rewritten: boolean }>> {
  // Reads and writes never share a cache: the same text is a refusal on one path and not the other.
  const cache = writes ? writeAnalysisCache(deps) : deps.analysisCache
  const analyze = writes ? analyzeWriteSql : analyzeSql
  let analysis = cache.get(sql)
  if (analysis === undefined) {
    const analysed = analyze(sql, deps.limits)
    if (!analysed.ok) return analysed
    analysis = analysed.value
    cache.set(sql, analysis)
  }
  trace.analysis = analysis
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
  // Writes: the classes the statement needs must be granted, before any catalog lookup.
  if (writes) {
    const classes = checkWriteClasses(analysis, grant.writeClasses)
    if (!classes.ok) return classes
  }
  const functions = await checkFunctions(analysis, functionDeps)
  if (!functions.ok) return functions

  // Phase B on relations: may this call read what the statement names, and through which columns?
  const plan = await checkRelations(analysis, grant.relations, grant.functions, relationDeps(source))
  if (!plan.ok) return plan
  // Phase B on what a write writes: its target (write-policy.ts). What it reads was checked above.
  if (writes) {
    const target = await checkWriteTarget(analysis, grant.relations, relationDeps(source))
    if (!target.ok) return target
  }
  if (plan.value.wraps.length === 0 || grant.relations === null) return ok({ analysis, rewritten: false })
  const rewritten = rewriteFor(deps, grant.relations.key, plan.value, analysis, writes)
  if (!rewritten.ok) return rewritten
  // The projections call only pg_catalog built-ins; check them like any other statement's.
  const again = await checkFunctions(rewritten.value, functionDeps)
  return again.ok ? ok({ analysis: rewritten.value, rewritten: true }) : again
}

const rewriteCaches = new WeakMap<PipelineDeps, AnalysisCache>()
const writeAnalysisCaches = new WeakMap<PipelineDeps, AnalysisCache>()

/** Accepted write analyses (the `execute` tool), apart from the read path's cache. */
function writeAnalysisCache(deps: PipelineDeps): AnalysisCache {
  let cache = writeAnalysisCaches.get(deps)
  if (cache === undefined) writeAnalysisCaches.set(deps, (cache = new AnalysisCache(200)))
  return cache
}

/** Rewritten statements by rules, plan and text: the rewrite parses twice, a hit parses never. */
function rewriteFor(
  deps: PipelineDeps,
  rulesKey: string,
  plan: RelationPlan,
  analysis: QueryAnalysis,
  writes: boolean,
): Result<QueryAnalysis> {
  let cache = rewriteCaches.get(deps)
  if (cache === undefined) rewriteCaches.set(deps, (cache = new AnalysisCache(1_000, 16_384)))
  const planKey = createHash('sha256').update(JSON.stringify(plan.wraps)).digest('base64url')
  const key = `${writes ? 'write' : 'read'}\u0000${rulesKey}\u0000${planKey}\u0000${analysis.statementText}`
  const hit = cache.get(key)
  if (hit !== undefined) return ok(hit)
  const rewritten = rewriteRelations(analysis.statementText, plan, deps.limits, writes ? analyzeWriteSql : analyzeSql)
  if (rewritten.ok) cache.set(key, rewritten.value)
  return rewritten
}

/**
 * The confirmation stage of a write, after every other stage allowed it. The binding covers what a
 * confirmation must not be transferable across; the confirmer (src/server/write-confirmation.ts)
 * carries it through a 2026-07-28 round trip and checks it again on the retry, which has run every
 * stage again. No confirmer (a transport that cannot ask): refused, never run.
 */
async function confirmWrite(ctx: RequestContext, tool: AnyToolDefinition, decision: CallDecision, trace: CallTrace): Promise<ConfirmationVerdict> {
  const analysis = decision.analysis
  const write = analysis?.write
  if (analysis === null || write === undefined) return { kind: 'refused', code: 'ERR_INTERNAL', subject: 'write_without_analysis' }
  const confirmer = ctx.confirmer
  if (confirmer === undefined) return { kind: 'refused', code: 'ERR_WRITE_CONFIRMATION_UNAVAILABLE' }
  const callerStatement = trace.analysis?.statementText ?? analysis.statementText
  const params = tool.sqlOf?.(decision.input).params ?? []
  const binding = createHash('sha256')
    .update(
      JSON.stringify([
        'sqlwarden-write-confirmation-v1',
        ctx.principal.id,
        decision.source.name,
        tool.name,
        decision.limits.identity?.dbRole ?? null,
        callerStatement,
        analysis.statementText,
        params,
      ]),
    )
    .digest('hex')
  const request: WriteConfirmationRequest = {
    principal: ctx.principal.id,
    source: decision.source.name,
    statementClass: analysis.statementClass,
    classes: write.classes,
    target: write.target.schema === null ? write.target.name : `${write.target.schema}.${write.target.name}`,
    statementText: callerStatement,
    params,
    binding,
  }
  return confirmer.confirm(request)
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
    identity: {
      dbRole: grant.dbRole,
      principal: principal.id,
      ...(principal.claims || grant.settings ? { claims: { ...principal.claims, ...grant.settings } } : {}),
    },
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
