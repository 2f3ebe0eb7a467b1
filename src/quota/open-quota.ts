/**
 * Opens the configured quota store and engine. No `quotas:` in the config and no quotas in the
 * policy: no engine (nothing to enforce, no per-call cost). The shared stores connect in the
 * background: a store that is down at start does not stop the start, its calls are refused until
 * it answers (fail closed).
 */
import type { Logger } from '../log/logger.js'
import { QuotaEngine } from './quota-engine.js'
import type { QuotaConfig } from './quota-schema.js'
import type { QuotaStore } from './quota-store.js'
import { MemoryQuotaStore } from './memory-store.js'

export async function openQuota(config: QuotaConfig | undefined, policyHasQuotas: boolean, logger: Logger): Promise<QuotaEngine | null> {
  if (config === undefined && !policyHasQuotas) return null
  const store = await openStore(config, logger)
  logger.info({ store: store.kind }, 'quotas: enforcing')
  return new QuotaEngine({
    store,
    ...(config?.defaults === undefined ? {} : { defaults: config.defaults }),
    ...(config?.sources === undefined ? {} : { sources: config.sources }),
    ...(config === undefined ? {} : { leaseTtlMs: config.leaseTtl }),
  })
}

async function openStore(config: QuotaConfig | undefined, logger: Logger): Promise<QuotaStore> {
  if (config?.store === 'redis' && config.redis !== undefined) {
    const { RedisQuotaStore } = await import('./redis-store.js')
    return new RedisQuotaStore({ url: config.redis.url, logger })
  }
  if (config?.store === 'postgres' && config.postgres !== undefined) {
    const { PostgresQuotaStore } = await import('./postgres-store.js')
    return new PostgresQuotaStore({ url: config.postgres.url, table: config.postgres.table, logger })
  }
  return new MemoryQuotaStore()
}
