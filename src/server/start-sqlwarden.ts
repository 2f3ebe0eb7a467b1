/**
 * Starts sqlwarden from a loaded config: the parser, the sources, then one transport. Returns a
 * handle that closes everything in reverse order.
 *
 * Start-up is mostly module loading and waiting for the database, so the two overlap: the sources
 * start connecting first, the parser's WASM module and the transport's modules (the MCP SDK) load
 * while they do, and on stdio the transport starts answering `initialize` at once. A `tools/call`
 * that arrives before the sources are open and their roles checked waits for them; if they fail,
 * it is refused and the start fails as before (exit 2). No call reaches a database any earlier.
 */
import type { AuditRuntime } from '../audit/open-audit.js'
import { effectiveAudit } from '../audit/audit-settings.js'
import type { Config } from '../config/config-schema.js'
import { openSources, type OpenSourcesResult } from '../exec/open-sources.js'
import type { Logger } from '../log/logger.js'
import type { PipelineDeps } from '../pipeline/pipeline.js'
import { createPrincipal } from '../pipeline/request-context.js'
import { loadPolicy } from '../policy/load-policy.js'
import type { QuotaEngine } from '../quota/quota-engine.js'
import { openQuota } from '../quota/open-quota.js'
import { AnalysisCache } from '../sql/analysis-cache.js'
import { analyzeSql } from '../sql/analyze-sql.js'
import { loadPostgresParser } from '../sql/parser/postgres-parser.js'

export interface RunningSqlwarden {
  readonly transport: 'stdio' | 'http'
  /** The MCP endpoint URL over HTTP; null on stdio. */
  readonly url: string | null
  close(): Promise<void>
}

export type StartResult = { ok: true; running: RunningSqlwarden } | { ok: false; message: string }

/**
 * A statement shaped like an agent's first query. Parsing it once at start-up compiles the parser's
 * WASM functions and the analysis code while the database is still connecting, instead of during
 * the first call. Analysis is pure: nothing is cached or sent anywhere.
 */
const WARM_UP_SQL = 'SELECT a.id, count(*) FROM s.t AS a JOIN s.u AS b ON b.t_id = a.id WHERE a.id = $1 GROUP BY a.id ORDER BY 2 LIMIT 10'

export async function startSqlwarden(config: Config, logger: Logger): Promise<StartResult> {
  const policy = loadPolicy(config.policy, Object.keys(config.sources))
  if (!policy.ok) return policy
  // Connecting starts first; the rest loads while it waits on the network.
  const opening = openSources(config, logger, policy.policy)
  const parser = loadPostgresParser().then(() => void analyzeSql(WARM_UP_SQL, config.limits))
  // The audit trail opens alongside (its start record is written before any call can be served).
  // Its modules load only when audit is on (cold start).
  const auditing =
    effectiveAudit(config) === null
      ? Promise.resolve({ ok: true as const, audit: null })
      : import('../audit/open-audit.js').then(({ openAudit }) => openAudit(config, logger))
  // Quotas (docs/quotas.md): a shared store connects in the background; while it is down, calls are refused.
  const policyQuotas = policy.policy.describe().some((reach) => reach.rules.quotas !== undefined)
  const quotas = openQuota(config.quotas, policyQuotas, logger)
  const ready = Promise.all([opening, parser, auditing, quotas]).then(async ([opened, , audit, quota]): Promise<OpenSourcesResult> => {
    if (opened.ok) quotaOf.set(opened.registry, quota)
    else await quota?.close()
    if (!audit.ok) {
      if (opened.ok) await opened.registry.close()
      await quota?.close()
      return { ok: false, message: audit.message }
    }
    if (audit.audit === null) logger.info('audit: off (sqlwarden --audit FILE, or audit: in the config, turns it on)')
    else logger.info({ audit: audit.audit.log.description }, 'audit: writing the hash-chained trail')
    if (opened.ok) auditOf.set(opened.registry, audit.audit)
    else await audit.audit?.log.close()
    return opened
  })
  // Awaited below; a failure while the transport loads must not count as unhandled meanwhile.
  ready.catch(() => undefined)
  if (config.http !== undefined) return startHttpWhenOpen(config, config.http, logger, ready, policy.policy)

  // Each transport's modules load only when it is used (start-up time, bench cold start).
  const { startStdio } = await import('../transport/stdio-transport.js')
  const deps = ready.then((opened) => {
    if (!opened.ok) throw new Error('sources failed to open')
    return pipelineDeps(config, logger, opened, policy.policy)
  })
  // Rejections are answered per call (ERR_SOURCE_UNAVAILABLE) and reported below, once.
  deps.catch(() => undefined)
  const principal = createPrincipal(config.auth.stdio.principal, config.auth.stdio.roles)
  const stdio = startStdio({ deps, policy: policy.policy, logger }, principal, logger)
  const opened = await ready
  if (!opened.ok) {
    await stdio.close()
    return opened
  }
  logger.info({ sources: opened.registry.names() }, 'sqlwarden serving stdio')
  return {
    ok: true,
    running: {
      transport: 'stdio',
      url: null,
      async close() {
        await stdio.close()
        await opened.registry.close()
        await quotaOf.get(opened.registry)?.close()
        await auditOf.get(opened.registry)?.log.close()
      },
    },
  }
}

async function startHttpWhenOpen(
  config: Config,
  httpConfig: NonNullable<Config['http']>,
  logger: Logger,
  ready: Promise<OpenSourcesResult>,
  policy: PipelineDeps['policy'],
): Promise<StartResult> {
  const [opened, { startHttp }] = await Promise.all([ready, import('../transport/http-transport.js')])
  if (!opened.ok) return opened
  const deps = pipelineDeps(config, logger, opened, policy)
  let http
  try {
    http = await startHttp(deps, httpConfig, config.auth, logger)
  } catch (error) {
    await opened.registry.close()
    await deps.quota?.close()
    await deps.audit?.log.close()
    const code = (error as { code?: string }).code
    return { ok: false, message: `http.listen: cannot listen on ${httpConfig.listen}${code ? ` (${code})` : ''}` }
  }
  logger.info({ endpoint: http.url, sources: opened.registry.names() }, 'sqlwarden serving Streamable HTTP')
  return {
    ok: true,
    running: {
      transport: 'http',
      url: http.url,
      async close() {
        await http.close()
        await opened.registry.close()
        await quotaOf.get(opened.registry)?.close()
        await auditOf.get(opened.registry)?.log.close()
      },
    },
  }
}

function pipelineDeps(
  config: Config,
  logger: Logger,
  opened: OpenSourcesResult & { ok: true },
  policy: PipelineDeps['policy'],
): PipelineDeps {
  return {
    sources: opened.registry,
    limits: config.limits,
    logger,
    analysisCache: new AnalysisCache(),
    policy,
    audit: auditOf.get(opened.registry) ?? null,
    quota: quotaOf.get(opened.registry) ?? null,
  }
}

/** The quota engine opened with a registry (closed after it). */
const quotaOf = new WeakMap<object, QuotaEngine | null>()

/** The audit trail opened with a registry (closed after it). */
const auditOf = new WeakMap<object, AuditRuntime | null>()
