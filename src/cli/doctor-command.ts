/**
 * `sqlwarden doctor`: connects to each configured source, prints the role's powers and write
 * privileges, and the SQL that would make it a least-privilege reader. Exits 1 when a source's
 * role would be refused at start-up, or the source can't be reached.
 */
import type { Config } from '../config/config-schema.js'
import type { RoleReport } from '../exec/drivers/driver.js'
import { createPostgresDriver } from '../exec/drivers/postgres/postgres-driver.js'
import { judgeRole } from '../exec/role-check.js'
import type { Logger } from '../log/logger.js'

export async function runDoctor(config: Config, logger: Logger, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  let status = 0
  for (const [name, source] of Object.entries(config.sources)) {
    if (source.kind !== 'postgres') {
      out.write(`source ${name}: embedded demo database (PGlite, a local copy; runs as its built-in superuser)\n\n`)
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
      out.write(describe(name, report.value))
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

function describe(name: string, r: RoleReport): string {
  const flags = [
    r.superuser && 'SUPERUSER',
    r.bypassRls && 'BYPASSRLS',
    r.createRole && 'CREATEROLE',
    r.createDb && 'CREATEDB',
    r.replication && 'REPLICATION',
  ].filter(Boolean)
  return [
    `source ${name}: PostgreSQL ${r.serverVersion}, role ${r.role}`,
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
