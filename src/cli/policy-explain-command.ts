/**
 * `sqlwarden policy explain --as alice "SQL"`: runs every stage of a call (phase A, analysis, the
 * function policy and phase B against the source's catalog) and prints the decision with its reason, the
 * database role and the limits it would run with. The SQL is never executed. Exits 0 for allow,
 * 1 for deny, 2 for a bad config or policy.
 */
import { loadConfig, type CliOverrides } from '../config/load-config.js'
import { ERROR_CATALOG } from '../errors/error-codes.js'
import { openSources } from '../exec/open-sources.js'
import { createLogger } from '../log/logger.js'
import { explainToolCall } from '../pipeline/pipeline.js'
import { createPrincipal, createRequestContext } from '../pipeline/request-context.js'
import { loadPolicy } from '../policy/load-policy.js'
import { AnalysisCache } from '../sql/analysis-cache.js'
import { loadPostgresParser } from '../sql/parser/postgres-parser.js'
import type { PolicyExplainArgs } from './cli-args.js'

export async function runPolicyExplain(args: PolicyExplainArgs, overrides: CliOverrides, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const loaded = loadConfig(overrides)
  if (!loaded.ok) {
    process.stderr.write(`sqlwarden: ERR_CONFIG_INVALID: ${loaded.message}\n`)
    return 2
  }
  const config = loaded.config
  const policy = loadPolicy(config.policy, Object.keys(config.sources))
  if (!policy.ok) {
    process.stderr.write(`sqlwarden: ERR_CONFIG_INVALID: ${policy.message}\n`)
    return 2
  }
  const logger = createLogger('error')
  const [opened] = await Promise.all([openSources(config, logger, policy.policy), loadPostgresParser()])
  if (!opened.ok) {
    process.stderr.write(`sqlwarden: ${opened.message}\n`)
    return 2
  }
  try {
    const principal = createPrincipal(args.principal, args.roles)
    const decision = await explainToolCall(
      { sources: opened.registry, limits: config.limits, logger, analysisCache: new AnalysisCache(), policy: policy.policy },
      {
        name: args.tool,
        args: { sql: args.sql, ...(args.source !== undefined ? { source: args.source } : {}) },
        ctx: createRequestContext({ principal, transport: 'stdio' }),
      },
    )
    out.write(`principal ${principal.id} (roles from the policy${args.roles.length ? ` and ${args.roles.join(', ')}` : ''}), tool ${args.tool}\n`)
    if (!decision.ok) {
      out.write(`decision: DENY ${decision.code}: ${ERROR_CATALOG[decision.code].message}${decision.subject ? ` (${decision.subject})` : ''}\n`)
      return 1
    }
    const { source, limits, analysis } = decision.value
    out.write(`decision: ALLOW on source ${source.name}\n`)
    out.write(`  runs as: ${limits.identity?.dbRole ?? 'the connected role'}; maxRows ${limits.maxRows}; statement timeout ${limits.statementTimeoutMs} ms\n`)
    if (analysis !== null) {
      out.write(`  statement: ${analysis.statementClass}; relations: ${analysis.relations.map((r) => (r.schema ? `${r.schema}.${r.name}` : r.name)).join(', ') || 'none'}\n`)
      out.write(`  functions: ${[...new Set(analysis.functions.map((f) => (f.schema ? `${f.schema}.${f.name}` : f.name)))].join(', ') || 'none'}\n`)
      if (decision.value.rewritten) {
        out.write(`  column rules apply; the statement that would run:\n    ${analysis.statementText}\n`)
      }
    }
    out.write('  (not executed)\n')
    return 0
  } finally {
    await opened.registry.close()
  }
}
