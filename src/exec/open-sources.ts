/**
 * Opens every configured source: the driver for its kind, the start-up role check, and the handle
 * the pipeline uses. The core never imports `pg` directly; only the driver folders do.
 */
import type { Config, EmbeddedSourceConfig, PostgresSourceConfig } from '../config/config-schema.js'
import type { Logger } from '../log/logger.js'
import type { CompiledPolicy } from '../policy/compile-policy.js'
import type { SourceHandle, SourceRegistry } from '../pipeline/source-handle.js'
import { CatalogCache } from '../policy/function-policy.js'
import type { SourceDriver } from './drivers/driver.js'
import { createPostgresDriver } from './drivers/postgres/postgres-driver.js'
import { createEmbeddedDriver } from './embedded/embedded-driver.js'
import { startEmbeddedDatabase } from './embedded/embedded-database.js'
import { guardRole } from './role-guard.js'

export type OpenSourcesResult = { ok: true; registry: SourceRegistry } | { ok: false; message: string }

export async function openSources(config: Config, logger: Logger, policy: CompiledPolicy): Promise<OpenSourcesResult> {
  const handles = new Map<string, SourceHandle>()
  const closeAll = async () => {
    await Promise.allSettled([...handles.values()].map((h) => h.driver.close()))
  }
  for (const [name, source] of Object.entries(config.sources)) {
    const opened =
      source.kind === 'postgres'
        ? await openPostgres(name, source, config, logger, mappedRoles(policy, name))
        : await openEmbedded(name, source, config, logger, mappedRoles(policy, name))
    if (!opened.ok) {
      await closeAll()
      return opened
    }
    handles.set(name, opened.handle)
  }
  const defaultSource = config.defaultSource
  if (defaultSource === undefined || !handles.has(defaultSource)) {
    await closeAll()
    return { ok: false, message: 'defaultSource: no such source' }
  }
  return {
    ok: true,
    registry: {
      defaultSource,
      get: (n) => handles.get(n),
      names: () => [...handles.keys()],
      close: closeAll,
    },
  }
}

type Opened = { ok: true; handle: SourceHandle } | { ok: false; message: string }

/** The database roles the policy maps calls on this source to. */
function mappedRoles(policy: CompiledPolicy, source: string): string[] {
  return [...new Set(policy.dbRoles().filter((r) => r.source === source || r.source === '*').map((r) => r.dbRole))]
}

async function openPostgres(
  name: string,
  source: PostgresSourceConfig,
  config: Config,
  logger: Logger,
  dbRoles: readonly string[],
): Promise<Opened> {
  const driver = createPostgresDriver({
    connectionString: source.url,
    ssl: source.ssl,
    poolSize: source.poolSize,
    searchPath: source.searchPath,
    lockTimeoutMs: config.limits.lockTimeoutMs,
    logger: logger.child({ source: name }),
    cancel: 'protocol',
  })
  const guarded = await guardRole(driver, { source: name, allowUnsafeRole: source.allowUnsafeRole, logger, dbRoles })
  if (!guarded.ok) {
    await driver.close()
    return guarded
  }
  return { ok: true, handle: handle(name, 'postgres', guarded.driver, source.searchPath, source.allowFunctions) }
}

/**
 * The embedded source gets the same role check as PostgreSQL (the reader role, and every role the
 * policy maps calls to), and the mapping is applied by the same Postgres driver code. One thing is
 * stricter: a mapped role must be granted to the reader, because the worker's session user is
 * PGlite's superuser and the server's membership check would let it become any role.
 */
async function openEmbedded(
  name: string,
  source: EmbeddedSourceConfig,
  config: Config,
  logger: Logger,
  dbRoles: readonly string[],
): Promise<Opened> {
  const log = logger.child({ source: name })
  let db
  try {
    db = await startEmbeddedDatabase({ dataDir: source.dataDir, logger: log })
  } catch (error) {
    log.error({ err: error }, 'embedded database failed to start')
    return { ok: false, message: `sources.${name}: the embedded database failed to start (see the log above)` }
  }
  const searchPath = ['public']
  const driver = createEmbeddedDriver({
    db,
    createPostgresDriver,
    searchPath,
    lockTimeoutMs: config.limits.lockTimeoutMs,
    logger: log,
  })
  const guarded = await guardRole(driver, { source: name, allowUnsafeRole: false, logger, dbRoles, requireMembership: true })
  if (!guarded.ok) {
    await driver.close()
    return guarded
  }
  return { ok: true, handle: handle(name, 'embedded', guarded.driver, searchPath, source.allowFunctions) }
}

function handle(
  name: string,
  kind: SourceHandle['kind'],
  driver: SourceDriver,
  searchPath: readonly string[],
  allowFunctions: readonly string[],
): SourceHandle {
  return Object.freeze({
    name,
    kind,
    driver,
    catalogCache: new CatalogCache(),
    searchPath: Object.freeze([...searchPath]),
    allowFunctions: Object.freeze([...allowFunctions]),
  })
}
