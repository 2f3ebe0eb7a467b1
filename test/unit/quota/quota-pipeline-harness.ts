/**
 * A pipeline with a recording fake driver and a quota engine, for the quota stage's unit tests.
 * The driver returns `rowsPerRead` rows (capped by the call's limits) and can be held open.
 */
import type { SourceDriver } from '../../../src/exec/drivers/driver.js'
import { silentLogger } from '../../../src/log/logger.js'
import { runToolCall, type CallOutcome, type PipelineDeps } from '../../../src/pipeline/pipeline.js'
import { createPrincipal, createRequestContext } from '../../../src/pipeline/request-context.js'
import { compilePolicy } from '../../../src/policy/compile-policy.js'
import { CatalogCache } from '../../../src/policy/function-policy.js'
import { policySchema } from '../../../src/policy/policy-schema.js'
import { MemoryQuotaStore } from '../../../src/quota/memory-store.js'
import { QuotaEngine } from '../../../src/quota/quota-engine.js'
import { quotaConfigSchema } from '../../../src/quota/quota-schema.js'
import type { QuotaStore } from '../../../src/quota/quota-store.js'
import { AnalysisCache } from '../../../src/sql/analysis-cache.js'
import { ok } from '../../../src/util/result.js'

export interface Harness {
  readonly deps: PipelineDeps
  readonly engine: QuotaEngine
  readonly driverCalls: string[]
  /** Rows each read returns before caps. */
  rowsPerRead: number
  /** When set, reads wait for it. */
  hold: Promise<void> | null
  /** When set, a read throws (a driver bug). */
  throwOnRead: boolean
  call(principal: string, args?: unknown, tool?: string): Promise<CallOutcome>
}

export function harness(
  options: { policy?: unknown; quotas?: unknown; store?: QuotaStore; now?: () => number } = {},
): Harness {
  const driverCalls: string[] = []
  const h = { rowsPerRead: 1, hold: null, throwOnRead: false } as Pick<Harness, 'rowsPerRead' | 'hold' | 'throwOnRead'>
  const driver = {
    dialect: 'postgres',
    async read(r) {
      driverCalls.push(`read:${r.sql}`)
      if (h.hold !== null) await h.hold
      if (h.throwOnRead) throw new Error('driver bug')
      const n = Math.min(h.rowsPerRead, r.limits.maxRows)
      const rows = Array.from({ length: n }, (_, i) => [i])
      return ok({ columns: [{ name: 'x', type: 'integer' }], rows, rowCount: n, truncated: n < h.rowsPerRead, truncatedBy: n < h.rowsPerRead ? 'rows' : null, bytes: n * 2 })
    },
    async lookupFunctions() {
      return ok([])
    },
    async lookupOperators() {
      return ok([])
    },
    async lookupRelations(names) {
      return ok(names.map(() => null))
    },
    async lookupTypes(names) {
      return ok(names.map(() => null))
    },
    async listTables() {
      driverCalls.push('listTables')
      return ok([])
    },
  } as Partial<SourceDriver> as SourceDriver
  const source = { name: 'main', kind: 'postgres' as const, driver, catalogCache: new CatalogCache(), searchPath: ['public'], allowFunctions: [] }
  const quotas = quotaConfigSchema.parse(options.quotas ?? {})
  const engine = new QuotaEngine({
    store: options.store ?? new MemoryQuotaStore(options.now),
    ...(quotas.defaults === undefined ? {} : { defaults: quotas.defaults }),
    ...(quotas.sources === undefined ? {} : { sources: quotas.sources }),
  })
  const policy = compilePolicy(
    policySchema.parse(options.policy ?? { version: 1, roles: { default: { sources: { '*': {} } } } }),
  )
  const deps: PipelineDeps = {
    sources: { defaultSource: 'main', get: (n) => (n === 'main' ? source : undefined), names: () => ['main'], close: async () => {} },
    limits: { maxRows: 500, maxBytes: 524288, statementTimeoutMs: 30_000, lockTimeoutMs: 5_000, maxSqlLength: 20_000, maxSqlDepth: 100 },
    logger: silentLogger(),
    analysisCache: new AnalysisCache(),
    policy,
    quota: engine,
  }
  return Object.assign(h, {
    deps,
    engine,
    driverCalls,
    call(principal: string, args: unknown = { sql: 'SELECT 1' }, tool = 'query') {
      const p = createPrincipal(principal, ['default'])
      return runToolCall(deps, { name: tool, args, ctx: createRequestContext({ principal: p, transport: 'stdio' }) })
    },
  }) as Harness
}

export function codeOf(outcome: CallOutcome): string {
  return outcome.ok ? 'ok' : outcome.code
}
