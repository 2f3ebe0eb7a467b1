/**
 * Applies the role check to a driver. When the database answers at start-up, an unsafe role stops
 * the start (unless allowed). When it doesn't, sqlwarden starts anyway (so a client sees
 * ERR_SOURCE_UNAVAILABLE instead of a dead server) and checks the role before the first call that
 * reaches the database: until that check has passed, every call is refused (fail closed).
 */
import type { Logger } from '../log/logger.js'
import { fail, type Result } from '../util/result.js'
import type { SourceDriver } from './drivers/driver.js'
import { judgeRole } from './role-check.js'

export interface RoleGuardOptions {
  readonly source: string
  readonly allowUnsafeRole: boolean
  readonly logger: Logger
  /** Roles the policy runs calls as on this source: each must exist and be neither superuser nor BYPASSRLS. */
  readonly dbRoles?: readonly string[]
  /**
   * Also refuse a mapped role the connected role is not a member of. PostgreSQL checks membership
   * itself at SET ROLE; the embedded database cannot: its session user is PGlite's superuser, for
   * whom every role is settable (pg_read_all_data, pg_execute_server_program, …). There, only the
   * roles the demo dataset grants to the reader role may be mapped.
   */
  readonly requireMembership?: boolean
}

type Verdict = 'allowed' | 'refused' | 'unknown'

export async function guardRole(
  driver: SourceDriver,
  options: RoleGuardOptions,
): Promise<{ ok: true; driver: SourceDriver } | { ok: false; message: string }> {
  let verdict = await check(driver, options)
  if (verdict === 'refused') {
    return {
      ok: false,
      message:
        `ERR_CONFIG_UNSAFE_ROLE: sources.${options.source}: the database role, or a role the policy maps calls to, ` +
        'is a superuser, has BYPASSRLS, does not exist or is not granted to the connected role (see the log above). Connect as a least-privilege role ' +
        '(see `sqlwarden doctor`); --allow-unsafe-role accepts an unsafe connected role, never an unsafe mapped one.',
    }
  }
  if (verdict === 'allowed') return { ok: true, driver }

  options.logger.warn('the database did not answer at start-up; calls are refused until its role has been checked')
  let pending: Promise<Verdict> | null = null
  const ensure = async (): Promise<Result<void> | null> => {
    if (verdict === 'allowed') return null
    if (verdict === 'refused') return fail('ERR_SOURCE_UNAVAILABLE', { subject: 'unsafe_role' })
    pending ??= check(driver, options).finally(() => {
      pending = null
    })
    verdict = await pending
    if (verdict === 'allowed') return null
    return fail('ERR_SOURCE_UNAVAILABLE', verdict === 'refused' ? { subject: 'unsafe_role' } : {})
  }
  const gate = <A extends unknown[], T>(fn: (...args: A) => Promise<Result<T>>) =>
    async (...args: A): Promise<Result<T>> => {
      const refused = await ensure()
      return refused !== null && !refused.ok ? refused : fn(...args)
    }
  return {
    ok: true,
    driver: {
      dialect: driver.dialect,
      read: gate(driver.read.bind(driver)),
      explain: gate(driver.explain.bind(driver)),
      write: gate(driver.write.bind(driver)),
      listSchemas: gate(driver.listSchemas.bind(driver)),
      listTables: gate(driver.listTables.bind(driver)),
      describeTable: gate(driver.describeTable.bind(driver)),
      lookupFunctions: gate(driver.lookupFunctions.bind(driver)),
      lookupOperators: gate(driver.lookupOperators.bind(driver)),
      lookupRelations: gate(driver.lookupRelations.bind(driver)),
      lookupTypes: gate(driver.lookupTypes.bind(driver)),
      inspectRole: driver.inspectRole.bind(driver),
      close: driver.close.bind(driver),
    },
  }
}

async function check(driver: SourceDriver, options: RoleGuardOptions): Promise<Verdict> {
  const report = await driver.inspectRole()
  if (!report.ok) return 'unknown'
  const mapped = await checkMappedRoles(driver, options)
  if (mapped !== 'allowed') return mapped
  const judged = judgeRole(report.value)
  if (judged.kind === 'unsafe') {
    if (!options.allowUnsafeRole) {
      options.logger.error({ role: report.value.role }, `refusing source ${options.source}: ${judged.message}`)
      return 'refused'
    }
    options.logger.warn(
      { role: report.value.role },
      `UNSAFE: ${judged.message}; running anyway because allowUnsafeRole is set. Row-level security and grants do not protect this source.`,
    )
  } else if (judged.kind === 'writable') {
    options.logger.warn({ role: report.value.role }, judged.message)
  }
  return 'allowed'
}

/**
 * Roles a policy maps calls to: refused when missing, SUPERUSER or BYPASSRLS, whatever
 * allowUnsafeRole says, and with `requireMembership` when the connected role is not a member.
 */
async function checkMappedRoles(driver: SourceDriver, options: RoleGuardOptions): Promise<Verdict> {
  const names = options.dbRoles ?? []
  if (names.length === 0) return 'allowed'
  const r = await driver.read({
    // current_user is the connected role (no identity: no SET LOCAL ROLE for this read).
    sql:
      "SELECT rolname, rolsuper, rolbypassrls, pg_catalog.pg_has_role(current_user, oid, 'MEMBER') " +
      'FROM pg_catalog.pg_roles WHERE rolname = ANY($1::text[])',
    params: [`{${names.map((n) => `"${n}"`).join(',')}}`],
    limits: { maxRows: 10_000, maxBytes: 1024 * 1024, statementTimeoutMs: 10_000 },
  })
  if (!r.ok) return 'unknown'
  const found = new Map(
    r.value.rows.map((row) => [String(row[0]), { unsafe: row[1] === true || row[2] === true, member: row[3] === true }]),
  )
  for (const name of names) {
    const role = found.get(name)
    if (role === undefined) {
      options.logger.error({ dbRole: name }, `refusing source ${options.source}: the policy maps calls to a role that does not exist`)
      return 'refused'
    }
    if (role.unsafe) {
      options.logger.error({ dbRole: name }, `refusing source ${options.source}: the policy maps calls to a SUPERUSER or BYPASSRLS role`)
      return 'refused'
    }
    if (options.requireMembership === true && !role.member) {
      options.logger.error(
        { dbRole: name },
        `refusing source ${options.source}: the policy maps calls to a role the connected role is not a member of`,
      )
      return 'refused'
    }
  }
  return 'allowed'
}
