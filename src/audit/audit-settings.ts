/**
 * Which audit trail a config asks for (light: no sink or chain code), so a server without audit
 * loads none of the audit modules.
 */
import { join } from 'node:path'
import type { AuditConfig, Config } from '../config/config-schema.js'
import { CACHE_DIR_ENV, defaultCacheRoot } from '../exec/embedded/embedded-paths.js'

/** The effective audit settings: the config's, or the default for this config. */
export function effectiveAudit(config: Config, env: Readonly<Record<string, string | undefined>> = process.env): AuditConfig | null {
  if (config.audit !== undefined) return config.audit.sink === 'off' ? null : config.audit
  const defaultSource = config.sources[config.defaultSource ?? '']
  if (defaultSource?.kind !== 'embedded') return null
  const root = env[CACHE_DIR_ENV]?.trim() ? (env[CACHE_DIR_ENV] as string) : defaultCacheRoot()
  return {
    sink: 'file',
    file: join(root, 'audit', 'audit.jsonl'),
    durability: 'write',
    rotate: { maxBytes: 64 * 1024 * 1024 },
    recordSql: false,
    recordParams: false,
    redact: [],
    appendTimeoutMs: 5_000,
  }
}

