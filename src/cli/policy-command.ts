/**
 * `sqlwarden policy check FILE`: validates a policy (strictly, and against the config's sources
 * when --config or SQLWARDEN_CONFIG names one) and prints what each role can reach. Exits 0 when
 * valid, 2 with a message naming the key when not.
 */
import type { CliOverrides } from '../config/load-config.js'
import { loadConfig } from '../config/load-config.js'
import { loadPolicy } from '../policy/load-policy.js'

export async function runPolicyCheck(file: string, overrides: CliOverrides, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  let sources: string[] | null = null
  if (overrides.configFile !== undefined || process.env.SQLWARDEN_CONFIG) {
    const config = loadConfig(overrides)
    if (!config.ok) {
      process.stderr.write(`sqlwarden: ERR_CONFIG_INVALID: ${config.message}\n`)
      return 2
    }
    sources = Object.keys(config.config.sources)
  }
  // Without a config, the source names the policy uses are taken as given.
  const policy = loadPolicy(file, sources)
  if (!policy.ok) {
    process.stderr.write(`sqlwarden: ERR_CONFIG_INVALID: ${policy.message}\n`)
    return 2
  }
  const rows = policy.policy.describe()
  out.write(`policy ${file}: valid, ${new Set(rows.map((r) => r.role)).size} roles\n`)
  for (const r of rows) {
    const limits = [
      r.maxRows !== null ? `maxRows ${r.maxRows}` : null,
      r.statementTimeoutMs !== null ? `statementTimeout ${r.statementTimeoutMs} ms` : null,
    ].filter(Boolean)
    out.write(
      `  role ${r.role} on source ${r.source === '*' ? 'every source' : r.source}: tools ${r.tools.join(', ')}; ` +
        `runs as ${r.dbRole ?? 'the connected role'}${limits.length ? `; ${limits.join(', ')}` : ''}\n`,
    )
  }
  if (sources === null) out.write('  (no --config given: source names were not checked against a config)\n')
  return 0
}
