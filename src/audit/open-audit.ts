/**
 * Opens the audit trail a config asks for: the sink, the key, the chain's `start` record with the
 * config and policy hashes. Returns null when audit is off (said on stderr by the caller).
 *
 * Defaults: with no `audit` section, the embedded demo writes `<cache>/audit/audit.jsonl` so a new
 * user sees one; a real database gets no audit until configured (`--audit FILE`), and the start
 * log says so. If the default file is held by another running sqlwarden, a per-process file next
 * to it is used instead (two writers on one file would interleave their chains).
 */
import { hostname } from 'node:os'
import { dirname, join } from 'node:path'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import type { AuditConfig, Config } from '../config/config-schema.js'
import { effectiveAudit } from './audit-settings.js'
import type { Logger } from '../log/logger.js'
import { SERVER_VERSION } from '../server/server-info.js'
import { contentHash } from './audit-chain.js'
import { AuditLog } from './audit-log.js'
import type { AuditSink } from './audit-sink.js'
import type { AuditContentOptions } from './call-event.js'
import { JsonlFileSink } from './jsonl-file-sink.js'
import { StderrSink } from './stderr-sink.js'

export interface AuditRuntime {
  readonly log: AuditLog
  readonly content: AuditContentOptions
}

export { effectiveAudit } from './audit-settings.js'

export type OpenAuditResult = { ok: true; audit: AuditRuntime | null } | { ok: false; message: string }

export async function openAudit(config: Config, logger: Logger): Promise<OpenAuditResult> {
  const audit = effectiveAudit(config)
  if (audit === null) return { ok: true, audit: null }
  const content: AuditContentOptions = {
    recordSql: audit.recordSql,
    recordParams: audit.recordParams,
    redact: audit.redact.map((source) => new RegExp(source, 'gu')),
  }
  const key = audit.hmacKey === undefined ? null : Buffer.from(audit.hmacKey, 'utf8')
  const common = {
    key,
    durability: audit.durability,
    configHash: contentHash(redactedConfig(config)),
    policyHash: policyHash(config.policy),
    version: SERVER_VERSION,
    logger,
    appendTimeoutMs: audit.appendTimeoutMs,
  }
  const sinks = await sinkCandidates(audit, config.audit === undefined)
  if (!sinks.ok) return sinks
  let lastError: unknown = null
  for (const sink of sinks.value) {
    try {
      const log = await AuditLog.open({ ...common, sink })
      return { ok: true, audit: { log, content } }
    } catch (error) {
      lastError = error
      await sink.close().catch(() => undefined)
    }
  }
  const reason = lastError instanceof Error ? lastError.message : 'cannot be opened'
  return { ok: false, message: `audit: ${sinks.value[0]?.description ?? audit.sink}: ${reason}` }
}

async function sinkCandidates(audit: AuditConfig, isDefault: boolean): Promise<{ ok: true; value: AuditSink[] } | { ok: false; message: string }> {
  switch (audit.sink) {
    case 'stderr':
      return { ok: true, value: [new StderrSink()] }
    case 'postgres': {
      const { PostgresAuditSink } = await import('./postgres-audit-sink.js')
      const pg = audit.postgres
      if (pg === undefined) return { ok: false, message: 'audit.postgres: required for sink postgres' }
      return {
        ok: true,
        value: [new PostgresAuditSink({ url: pg.url, table: pg.table, replica: pg.replica ?? `${hostname()}:${process.pid}` })],
      }
    }
    default: {
      if (audit.file === undefined) return { ok: false, message: 'audit.file: required for sink file (or use --audit FILE)' }
      try {
        mkdirSync(dirname(audit.file), { recursive: true, mode: 0o700 })
      } catch {
        return { ok: false, message: `audit.file: cannot create the directory of ${audit.file}` }
      }
      const options = {
        durability: audit.durability,
        ...(audit.rotate.maxBytes !== undefined ? { rotateBytes: audit.rotate.maxBytes } : {}),
        ...(audit.rotate.maxAge !== undefined ? { rotateMs: audit.rotate.maxAge } : {}),
      }
      const perProcess = join(dirname(audit.file), `audit-${process.pid}.jsonl`)
      // Only the demo's default file falls back to a file of its own; a configured one is refused.
      const fallback = isDefault ? [new JsonlFileSink({ ...options, file: perProcess })] : []
      return { ok: true, value: [new JsonlFileSink({ ...options, file: audit.file }), ...fallback] }
    }
  }
}

/** The policy version hash: of the file's bytes, or of the inline document, or of "no policy". */
export function policyHash(policy: Config['policy']): string {
  if (typeof policy !== 'string') return contentHash(policy ?? null)
  try {
    return createHash('sha256').update(readFileSync(policy)).digest('hex')
  } catch {
    return contentHash(null)
  }
}

/** The config as hashed into `start` records: no secrets (URLs, keys, hashes) in what is hashed. */
function redactedConfig(config: Config): unknown {
  return JSON.parse(
    JSON.stringify(config, (key, value: unknown) =>
      ['url', 'hmacKey', 'hash', 'ca'].includes(key) ? '[redacted]' : value,
    ),
  )
}
