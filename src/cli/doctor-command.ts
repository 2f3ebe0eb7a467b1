/**
 * `sqlwarden doctor`: connects to each configured source, says whether a pooler sits in front and
 * whether it shares sessions, prints the role's powers and write privileges, and the SQL that would
 * make it a least-privilege reader. Exits 1 when a source's role would be refused at start-up, its
 * sessions are shared (every call would be refused, D30), or the source can't be reached.
 */
import type { Config } from '../config/config-schema.js'
import type { RoleReport } from '../exec/drivers/driver.js'
import { createPostgresDriver } from '../exec/drivers/postgres/postgres-driver.js'
import { probeSessions, type SessionProbe } from '../exec/drivers/postgres/postgres-session-probe.js'
import { judgeRole } from '../exec/role-check.js'
import type { Logger } from '../log/logger.js'

export async function runDoctor(config: Config, logger: Logger, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  let status = 0
  for (const [name, source] of Object.entries(config.sources)) {
    if (source.kind !== 'postgres') {
      out.write(`source ${name}: embedded demo database (PGlite, a local copy; runs as its built-in superuser)\n\n`)
      continue
    }
    // Before the role: behind a pooler that shares sessions the driver would refuse the role query too.
    const probe = await probeSessions({ connectionString: source.url, ...(source.ssl === undefined ? {} : { ssl: source.ssl }) })
    if (!probe.ok) {
      out.write(`source ${name}: cannot connect (${probe.code})\n\n`)
      status = 1
      continue
    }
    if (probe.value.shared) {
      out.write(`source ${name}: ${connectionLine(probe.value)}\n  verdict: REFUSED: every call would be refused; use session pooling or connect directly\n\n`)
      status = 1
      continue
    }
    const driver = createPostgresDriver({
      connectionString: source.url,
      ssl: source.ssl,
      poolSize: 1,
      searchPath: source.searchPath,
      lockTimeoutMs: config.limits.lockTimeoutMs,
      logger,
      cancel: 'protocol',
    })
    try {
      const report = await driver.inspectRole()
      if (!report.ok) {
        out.write(`source ${name}: cannot connect (${report.code})\n\n`)
        status = 1
        continue
      }
      const verdict = judgeRole(report.value)
      out.write(describe(name, report.value, probe.value))
      if (verdict.kind === 'unsafe') {
        status = source.allowUnsafeRole ? status : 1
        out.write(`  verdict: REFUSED at start-up: ${verdict.message}${source.allowUnsafeRole ? ' (allowed by allowUnsafeRole)' : ''}\n`)
      } else if (verdict.kind === 'writable') {
        out.write(`  verdict: allowed with a warning: ${verdict.message}\n`)
      } else {
        out.write('  verdict: OK, a least-privilege role\n')
      }
      if (verdict.kind !== 'ok') out.write(advice(report.value))
      out.write('\n')
    } finally {
      await driver.close()
    }
  }
  return status
}

/** What sits between sqlwarden and PostgreSQL, as the session probe saw it. */
function connectionLine(p: SessionProbe): string {
  if (p.shared) {
    return 'connection: through a pooler that shares sessions between connections (transaction or statement pooling), which voids call isolation (I7, D30)'
  }
  return p.proxied
    ? 'connection: through a pooler or proxy; each connection kept a session of its own in the probe (session pooling: supported)'
    : 'connection: direct to PostgreSQL (one backend per connection)'
}

function describe(name: string, r: RoleReport, probe: SessionProbe): string {
  const flags = [
    r.superuser && 'SUPERUSER',
    r.bypassRls && 'BYPASSRLS',
    r.createRole && 'CREATEROLE',
    r.createDb && 'CREATEDB',
    r.replication && 'REPLICATION',
  ].filter(Boolean)
  return [
    `source ${name}: PostgreSQL ${r.serverVersion}, role ${r.role}`,
    `  ${connectionLine(probe)}`,
    `  attributes: ${flags.length ? flags.join(' ') : 'none'}`,
    `  member of: ${r.memberOf.length ? r.memberOf.join(', ') : 'none'}`,
    `  write privileges: ${r.writePrivileges.length ? '' : 'none'}`,
    ...r.writePrivileges.slice(0, 50).map((p) => `    - ${p}`),
    ...(r.writePrivileges.length > 50 ? [`    … and ${r.writePrivileges.length - 50} more`] : []),
    '',
  ].join('\n')
}

function advice(r: RoleReport): string {
  return [
    '  suggested least-privilege role (run as an administrator, adjust schemas):',
    '    CREATE ROLE sqlwarden_reader LOGIN PASSWORD \'…\' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;',
    '    GRANT CONNECT ON DATABASE <db> TO sqlwarden_reader;',
    '    GRANT USAGE ON SCHEMA public TO sqlwarden_reader;',
    '    GRANT SELECT ON ALL TABLES IN SCHEMA public TO sqlwarden_reader;',
    '    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO sqlwarden_reader;',
    `  then point --db at that role instead of ${r.role}.`,
    '',
  ].join('\n')
}
