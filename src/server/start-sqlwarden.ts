/**
 * Starts sqlwarden from a loaded config: the parser, the sources, then one transport. Returns a
 * handle that closes everything in reverse order.
 */
import type { Config } from '../config/config-schema.js'
import { openSources } from '../exec/open-sources.js'
import type { Logger } from '../log/logger.js'
import type { PipelineDeps } from '../pipeline/pipeline.js'
import { createPrincipal } from '../pipeline/request-context.js'
import { loadPolicy } from '../policy/load-policy.js'
import { AnalysisCache } from '../sql/analysis-cache.js'
import { loadPostgresParser } from '../sql/parser/postgres-parser.js'

export interface RunningSqlwarden {
  readonly transport: 'stdio' | 'http'
  /** The MCP endpoint URL over HTTP; null on stdio. */
  readonly url: string | null
  close(): Promise<void>
}

export type StartResult = { ok: true; running: RunningSqlwarden } | { ok: false; message: string }

export async function startSqlwarden(config: Config, logger: Logger): Promise<StartResult> {
  const policy = loadPolicy(config.policy, Object.keys(config.sources))
  if (!policy.ok) return policy
  // The parser's WASM module loads while the sources connect and check their roles.
  const [opened] = await Promise.all([openSources(config, logger, policy.policy), loadPostgresParser()])
  if (!opened.ok) return opened
  const deps: PipelineDeps = { sources: opened.registry, limits: config.limits, logger, analysisCache: new AnalysisCache(), policy: policy.policy }
  if (config.http !== undefined) {
    let http
    try {
      // Each transport's modules load only when it is used (start-up time, bench cold start).
      const { startHttp } = await import('../transport/http-transport.js')
      http = await startHttp(deps, config.http, config.auth, logger)
    } catch (error) {
      await opened.registry.close()
      const code = (error as { code?: string }).code
      return { ok: false, message: `http.listen: cannot listen on ${config.http.listen}${code ? ` (${code})` : ''}` }
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
        },
      },
    }
  }
  const { startStdio } = await import('../transport/stdio-transport.js')
  const stdio = startStdio(deps, createPrincipal(config.auth.stdio.principal, config.auth.stdio.roles), logger)
  logger.info({ sources: opened.registry.names() }, 'sqlwarden serving stdio')
  return {
    ok: true,
    running: {
      transport: 'stdio',
      url: null,
      async close() {
        await stdio.close()
        await opened.registry.close()
      },
    },
  }
}
