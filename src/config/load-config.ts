/**
 * Config from flags, environment and an optional YAML file: merged, validated by the strict schema,
 * checked for unsafe combinations, then frozen (I8). The result is the only config the rest of the
 * program sees. Connection URLs are made non-enumerable so no serializer or log line prints them.
 */
import { readFileSync } from 'node:fs'
import { parseYaml } from './parse-yaml.js'
import { configSchema, type Config, type ConfigInput } from './config-schema.js'
import { interpolateEnv } from './interpolate-env.js'
import { parseListenAddress, isLoopbackHost } from './listen-address.js'
import { deepFreeze } from '../util/deep-freeze.js'

/** What the command line contributes; every field optional. */
export interface CliOverrides {
  readonly db?: string
  readonly configFile?: string
  readonly http?: string
  readonly maxRows?: number
  readonly maxBytes?: number
  readonly statementTimeout?: string
  readonly allowUnsafeRole?: boolean
  /** `--audit FILE`: the JSONL audit file (keeps the config's other audit settings). */
  readonly audit?: string
}

export type LoadConfigResult = { ok: true; config: Config } | { ok: false; message: string }

/** The name of the source made from `--db`, `DATABASE_URL` or the embedded default. */
export const CLI_SOURCE_NAME = 'default'

export function loadConfig(
  cli: CliOverrides,
  env: Readonly<Record<string, string | undefined>> = process.env,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): LoadConfigResult {
  const configFile = cli.configFile ?? nonEmpty(env.SQLWARDEN_CONFIG)
  let fromFile: Record<string, unknown> = {}
  if (configFile !== undefined) {
    let text: string
    try {
      text = readFile(configFile)
    } catch {
      return { ok: false, message: `cannot read config file ${configFile}` }
    }
    let parsed: unknown
    try {
      parsed = parseYaml(text, { prettyErrors: false, uniqueKeys: true })
    } catch (error) {
      const line = (error as { linePos?: { line: number }[] }).linePos?.[0]?.line
      return { ok: false, message: `config file ${configFile} is not valid YAML${line ? ` (line ${line})` : ''}` }
    }
    if (parsed === null || parsed === undefined) parsed = {}
    if (typeof parsed !== 'object' || Array.isArray(parsed)) {
      return { ok: false, message: `config file ${configFile} must hold a mapping at the top level` }
    }
    const interpolated = interpolateEnv(parsed, env)
    if (!interpolated.ok) return { ok: false, message: `config file ${configFile}: ${interpolated.message}` }
    fromFile = interpolated.value as Record<string, unknown>
  }

  const input = mergeCli(fromFile, cli, env)
  const envPrincipal = nonEmpty(env.SQLWARDEN_PRINCIPAL)
  if (envPrincipal !== undefined) {
    const auth = { ...((input as { auth?: Record<string, unknown> }).auth ?? {}) }
    auth.stdio = { ...((auth.stdio as Record<string, unknown> | undefined) ?? {}), principal: envPrincipal }
    ;(input as { auth?: unknown }).auth = auth
  }
  const result = configSchema.safeParse(input)
  if (!result.success) {
    const issue = result.error.issues[0]
    const path = issue?.path.length ? issue.path.join('.') : '(root)'
    const keys = issue && 'keys' in issue && Array.isArray(issue.keys) ? ` ${issue.keys.join(', ')}` : ''
    return { ok: false, message: `${path}: ${issue?.message ?? 'invalid'}${keys}` }
  }
  const config = result.data
  const checked = checkCombinations(config)
  if (checked !== null) return { ok: false, message: checked }
  if (config.defaultSource === undefined) {
    const names = Object.keys(config.sources)
    config.defaultSource = names.length === 1 ? names[0] : names.includes(CLI_SOURCE_NAME) ? CLI_SOURCE_NAME : undefined
    if (config.defaultSource === undefined) return { ok: false, message: 'defaultSource: required when several sources are configured' }
  }
  for (const source of Object.values(config.sources)) {
    if (source.kind === 'postgres') Object.defineProperty(source, 'url', { enumerable: false })
  }
  // Quota store URLs may carry a password too.
  if (config.quotas?.redis !== undefined) Object.defineProperty(config.quotas.redis, 'url', { enumerable: false })
  if (config.quotas?.postgres !== undefined) Object.defineProperty(config.quotas.postgres, 'url', { enumerable: false })
  return { ok: true, config: deepFreeze(config) }
}

function mergeCli(fromFile: Record<string, unknown>, cli: CliOverrides, env: Readonly<Record<string, string | undefined>>): ConfigInput {
  const merged: Record<string, unknown> = { ...fromFile }
  const sources = { ...((fromFile.sources as Record<string, unknown> | undefined) ?? {}) }
  const dbUrl = cli.db ?? (Object.keys(sources).length === 0 ? nonEmpty(env.DATABASE_URL) : undefined)
  if (dbUrl !== undefined) {
    sources[CLI_SOURCE_NAME] = { kind: 'postgres', url: dbUrl, ...(cli.allowUnsafeRole ? { allowUnsafeRole: true } : {}) }
    if (cli.db !== undefined) merged.defaultSource = CLI_SOURCE_NAME
  } else if (Object.keys(sources).length === 0) {
    sources[CLI_SOURCE_NAME] = { kind: 'embedded' }
  } else if (cli.allowUnsafeRole) {
    for (const [name, source] of Object.entries(sources)) {
      if (source && typeof source === 'object' && (source as { kind?: unknown }).kind === 'postgres') {
        sources[name] = { ...source, allowUnsafeRole: true }
      }
    }
  }
  merged.sources = sources
  const limits = { ...((fromFile.limits as Record<string, unknown> | undefined) ?? {}) }
  if (cli.maxRows !== undefined) limits.maxRows = cli.maxRows
  if (cli.maxBytes !== undefined) limits.maxBytes = cli.maxBytes
  if (cli.statementTimeout !== undefined) limits.statementTimeoutMs = cli.statementTimeout
  merged.limits = limits
  if (cli.audit !== undefined) {
    const audit = (fromFile.audit as Record<string, unknown> | undefined) ?? {}
    merged.audit = { ...audit, sink: 'file', file: cli.audit }
  }
  if (cli.http !== undefined) {
    merged.http = { ...((fromFile.http as Record<string, unknown> | undefined) ?? {}), listen: cli.http }
  }
  return merged as ConfigInput
}

/** Combinations the schema alone can't see. Returns a message naming the key, or null. */
function checkCombinations(config: Config): string | null {
  if (config.defaultSource !== undefined && !(config.defaultSource in config.sources)) {
    return `defaultSource: no source named ${config.defaultSource}`
  }
  for (const [name, source] of Object.entries(config.sources)) {
    if (source.kind !== 'postgres') continue
    let url: URL
    try {
      url = new URL(source.url)
    } catch {
      return `sources.${name}.url: not a valid URL`
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      return `sources.${name}.url: expected a postgres:// or postgresql:// URL`
    }
    if ((source.ssl?.mode === 'verify-ca' || source.ssl?.mode === 'verify-full') && source.ssl.ca === undefined) {
      return `sources.${name}.ssl.ca: required for ${source.ssl.mode}`
    }
  }
  for (const name of Object.keys(config.quotas?.sources ?? {})) {
    if (!(name in config.sources)) return `quotas.sources.${name}: no source named ${name}`
  }
  const jwks = config.auth.oauth?.jwksUri
  if (jwks !== undefined) {
    const url = new URL(jwks)
    // Keys fetched over plain HTTP could be swapped by anyone on the path: HTTPS unless loopback.
    if (url.protocol !== 'https:' && !isLoopbackHost(url.hostname.replace(/^\[|\]$/g, ''))) {
      return 'auth.oauth.jwksUri: must be https (plain http only on a loopback address)'
    }
  }
  if (config.http !== undefined) {
    const address = parseListenAddress(config.http.listen)
    if (address === null) return 'http.listen: expected HOST:PORT, for example 127.0.0.1:8765'
    // I9: a non-loopback bind is allowed only when every request must authenticate.
    if (!isLoopbackHost(address.host) && config.auth.apiKeys.length === 0 && config.auth.oauth === undefined) {
      return `http.listen: refusing to bind ${address.host}: a non-loopback bind needs authentication (auth.apiKeys or auth.oauth), which is not configured`
    }
  }
  return null
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}
