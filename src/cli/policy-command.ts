/**
 * `sqlwarden policy check FILE`: validates a policy (strictly, and against the config's sources
 * when --config or SQLWARDEN_CONFIG names one) and prints what each role can reach. Exits 0 when
 * valid, 2 with a message naming the key when not.
 */
import type { CliOverrides } from '../config/load-config.js'
import { loadConfig } from '../config/load-config.js'
import { loadPolicy } from '../policy/load-policy.js'
import type { SourceGrant } from '../policy/policy-schema.js'

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
        `runs as ${r.dbRole ?? 'the connected role'}${limits.length ? `; ${limits.join(', ')}` : ''}; ` +
        `access ${r.writeClasses.size === 0 ? 'read' : `write (${[...r.writeClasses].join(', ')}; each write confirmed by the user)`}\n`,
    )
    for (const line of describeRules(r.rules)) out.write(`    ${line}\n`)
  }
  if (sources === null) out.write('  (no --config given: source names were not checked against a config)\n')
  return 0
}

/** Phase B rules of one grant, one line each; an unrestricted grant says so. */
function describeRules(g: SourceGrant): string[] {
  const list = (xs: readonly string[] | undefined) => (xs && xs.length > 0 ? xs.join(', ') : null)
  const lines: string[] = []
  const allowDeny = (what: string, v: { allow?: string[] | undefined; deny?: string[] | undefined } | undefined) => {
    if (v === undefined) return
    const allow = list(v.allow)
    const deny = list(v.deny)
    if (v.allow !== undefined) lines.push(`${what} allowed: ${allow ?? 'none'}`)
    if (deny !== null) lines.push(`${what} denied: ${deny}`)
  }
  allowDeny('schemas', g.schemas)
  allowDeny('tables', g.tables)
  for (const [table, rule] of Object.entries(g.columns ?? {})) allowDeny(`columns of ${table}`, rule)
  for (const [table, masks] of Object.entries(g.masks ?? {})) {
    const shown = Object.entries(masks).map(([column, m]) =>
      typeof m === 'string' ? `${column} ${m}` : `${column} partial (first ${m.partial.keepFirst}, last ${m.partial.keepLast})`,
    )
    lines.push(`masked in ${table}: ${shown.join(', ')}`)
  }
  if (g.functions !== undefined) lines.push(`user functions: ${list(g.functions) ?? 'none'}`)
  if (lines.length === 0) return ['reads: everything the database role can read (no phase B rules)']
  lines.push('catalogs (pg_catalog, information_schema): only those named in an allow list')
  return lines
}
