/**
 * The start-up check of the connected role. A superuser or a BYPASSRLS role makes row-level
 * security and grants meaningless, so sqlwarden refuses it unless `allowUnsafeRole` is set, and
 * even then says so loudly. A role that can write is allowed (every guarantee holds for any role:
 * read-only transactions, analysis) but warned about, pointing to `sqlwarden doctor`.
 */
import type { RoleReport } from './drivers/driver.js'

export type RoleVerdict =
  | { readonly kind: 'ok' }
  | { readonly kind: 'writable'; readonly message: string }
  | { readonly kind: 'unsafe'; readonly message: string }

export function judgeRole(report: RoleReport): RoleVerdict {
  const unsafe = [report.superuser ? 'SUPERUSER' : null, report.bypassRls ? 'BYPASSRLS' : null].filter((x) => x !== null)
  if (unsafe.length > 0) {
    return { kind: 'unsafe', message: `role ${report.role} has ${unsafe.join(' and ')}` }
  }
  const powers = [
    report.createRole ? 'CREATEROLE' : null,
    report.createDb ? 'CREATEDB' : null,
    report.replication ? 'REPLICATION' : null,
  ].filter((x) => x !== null)
  if (powers.length > 0 || report.writePrivileges.length > 0) {
    const shown = report.writePrivileges.slice(0, 5).join(', ')
    const more = report.writePrivileges.length > 5 ? ` and ${report.writePrivileges.length - 5} more` : ''
    return {
      kind: 'writable',
      message: `role ${report.role} can write (${[...powers, shown + more].filter(Boolean).join('; ')}); reads stay read-only, but run \`sqlwarden doctor\` for a least-privilege role`,
    }
  }
  return { kind: 'ok' }
}
