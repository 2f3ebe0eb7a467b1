/**
 * `sqlwarden audit verify|search|stats …` arguments (pure). Parsed apart from the serving flags:
 * the audit commands read records, they never serve or connect to a source.
 */
import { parseArgs } from 'node:util'
import { parseDuration } from '../config/duration.js'

export interface AuditFilters {
  readonly principal?: string
  readonly since?: number
  readonly until?: number
  readonly decision?: 'allow' | 'deny' | 'error'
  readonly reason?: string
  readonly tool?: string
  readonly fingerprint?: string
}

export type AuditArgs =
  | {
      readonly command: 'verify'
      readonly target: string | undefined
      readonly configFile: string | undefined
      readonly keyFile: string | undefined
      readonly table: string
      readonly anchors: readonly { seq: number; hash: string }[]
      readonly json: boolean
    }
  | {
      readonly command: 'search' | 'stats'
      readonly target: string | undefined
      readonly configFile: string | undefined
      readonly keyFile: string | undefined
      readonly table: string
      readonly filters: AuditFilters
      readonly limit: number
      readonly json: boolean
    }

export const AUDIT_USAGE = `Usage:
  sqlwarden audit verify [FILE|DIR|postgres://…] [--key-file F] [--anchor SEQ:HASH…] [--table T] [--json]
  sqlwarden audit search [FILE|DIR|postgres://…] [--principal P] [--since T] [--until T] [--decision allow|deny|error]
                         [--reason CODE] [--tool NAME] [--fingerprint FP] [--limit N] [--json]
  sqlwarden audit stats  [FILE|DIR|postgres://…] [--since T] [--until T] [--json]

Without a target, the audit file of --config (or SQLWARDEN_CONFIG), else the embedded demo's.
T is an ISO 8601 time or an age such as 15m, 24h, 7d. The HMAC key comes from --key-file or
SQLWARDEN_AUDIT_KEY. verify exits 1 on any break, search and stats exit 0.
`

export function parseAuditArgs(argv: readonly string[], now: number = Date.now()): { ok: true; args: AuditArgs } | { ok: false; message: string } {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        'key-file': { type: 'string' },
        anchor: { type: 'string', multiple: true },
        table: { type: 'string' },
        json: { type: 'boolean' },
        principal: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        decision: { type: 'string' },
        reason: { type: 'string' },
        tool: { type: 'string' },
        fingerprint: { type: 'string' },
        limit: { type: 'string' },
      },
    })
  } catch (error) {
    return { ok: false, message: (error as Error).message.split('\n')[0] ?? 'invalid arguments' }
  }
  const { values, positionals } = parsed
  const command = positionals[0]
  if (command !== 'verify' && command !== 'search' && command !== 'stats') return { ok: false, message: AUDIT_USAGE }
  if (positionals.length > 2) return { ok: false, message: `unexpected argument: ${positionals[2]}` }
  const table = values.table ?? 'sqlwarden_audit'
  if (!/^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$/.test(table)) return { ok: false, message: '--table: expected a plain table name' }
  const common = { target: positionals[1], configFile: values.config, keyFile: values['key-file'], table, json: values.json === true }
  if (command === 'verify') {
    const anchors: { seq: number; hash: string }[] = []
    for (const a of values.anchor ?? []) {
      const m = /^(\d+):([0-9a-f]{64})$/.exec(a)
      if (m === null) return { ok: false, message: '--anchor: expected SEQ:HASH (64 hex digits)' }
      anchors.push({ seq: Number(m[1]), hash: m[2] as string })
    }
    for (const flag of ['principal', 'since', 'until', 'decision', 'reason', 'tool', 'fingerprint', 'limit'] as const) {
      if (values[flag] !== undefined) return { ok: false, message: `--${flag} belongs to audit search and stats` }
    }
    return { ok: true, args: { command, ...common, anchors } }
  }
  if (values.anchor !== undefined) return { ok: false, message: '--anchor belongs to audit verify' }
  const since = time(values.since, now, '--since')
  if (typeof since === 'string') return { ok: false, message: since }
  const until = time(values.until, now, '--until')
  if (typeof until === 'string') return { ok: false, message: until }
  const decision = values.decision
  if (decision !== undefined && decision !== 'allow' && decision !== 'deny' && decision !== 'error') {
    return { ok: false, message: '--decision: allow, deny or error' }
  }
  const limit = values.limit === undefined ? 50 : Number(values.limit)
  if (!Number.isSafeInteger(limit) || limit < 1) return { ok: false, message: '--limit: a positive whole number' }
  const filters: AuditFilters = {
    ...(values.principal !== undefined ? { principal: values.principal } : {}),
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
    ...(decision !== undefined ? { decision } : {}),
    ...(values.reason !== undefined ? { reason: values.reason } : {}),
    ...(values.tool !== undefined ? { tool: values.tool } : {}),
    ...(values.fingerprint !== undefined ? { fingerprint: values.fingerprint } : {}),
  }
  return { ok: true, args: { command, ...common, filters, limit } }
}

/** An ISO time, or an age before now (`15m`, `24h`, `7d`). */
function time(text: string | undefined, now: number, flag: string): number | undefined | string {
  if (text === undefined) return undefined
  const age = /^(\d+)d$/.exec(text)
  if (age) return now - Number(age[1]) * 86_400_000
  const ms = /^\d+(ms|s|m|h)$/.test(text) ? parseDuration(text) : null
  if (ms !== null) return now - ms
  const parsed = Date.parse(text)
  return Number.isNaN(parsed) ? `${flag}: expected an ISO 8601 time or an age such as 15m, 24h, 7d` : parsed
}
