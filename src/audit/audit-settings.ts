/**
 * Which audit trail a config asks for (light: no sink or chain code), so a server without audit
 * loads none of the audit modules.
 */
import { join } from 'node:path'
import type { AuditConfig, Config } from '../config/config-schema.js'
import { cacheRoot, currentEnvironment } from '../exec/embedded/embedded-paths.js'

/** The effective audit settings: the config's, or the default for this config. */
export function effectiveAudit(config: Config, env: Readonly<Record<string, string | undefined>> = process.env): AuditConfig | null {
  if (config.audit !== undefined) return config.audit.sink === 'off' ? null : config.audit
  const defaultSource = config.sources[config.defaultSource ?? '']
  if (defaultSource?.kind !== 'embedded') return null
  const environment = currentEnvironment(env)
  return {
    sink: 'file',
    // Under the same root as the embedded database (SQLWARDEN_CACHE_DIR or the platform default).
    file: join(cacheRoot(environment), 'audit', 'audit.jsonl'),
    durability: 'write',
    rotate: { maxBytes: 64 * 1024 * 1024 },
    recordSql: false,
    recordParams: false,
    redact: [],
    appendTimeoutMs: 5_000,
  }
}

