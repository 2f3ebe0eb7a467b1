/**
 * Command-line parsing (pure). The flag names are a contract relied on by users' client configs:
 * sqlwarden [--db URL] [--config FILE] [--http HOST:PORT] [--max-rows N] [--max-bytes N]
 *           [--statement-timeout DURATION] [--allow-unsafe-role] [--audit FILE]
 *           plus subcommands demo, doctor, policy, keys, audit.
 * Unknown flags stop the start (strict parsing).
 */
import { parseArgs } from 'node:util'
import type { CliOverrides } from '../config/load-config.js'

/** `sqlwarden policy explain --as NAME [--role R…] [--tool T] [--source S] "SQL"`. */
export interface PolicyExplainArgs {
  readonly principal: string
  readonly roles: readonly string[]
  readonly tool: string
  readonly source: string | undefined
  readonly sql: string
}

export const SUBCOMMANDS = ['serve', 'demo', 'doctor'] as const

/** `sqlwarden keys new --principal NAME --role ROLE…`: prints a new API key once and its config entry. */
export interface KeysNewArgs {
  readonly principal: string
  readonly roles: readonly string[]
}
export type Subcommand = (typeof SUBCOMMANDS)[number]

export type CliParse =
  | { ok: true; command: Subcommand; overrides: CliOverrides }
  | { ok: true; command: 'help' }
  | { ok: true; command: 'version' }
  | { ok: true; command: 'keys-new'; keys: KeysNewArgs }
  | { ok: true; command: 'policy-check'; file: string; overrides: CliOverrides }
  | { ok: true; command: 'policy-explain'; explain: PolicyExplainArgs; overrides: CliOverrides }
  | { ok: false; message: string }

export function parseCliArgs(argv: readonly string[]): CliParse {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        db: { type: 'string' },
        config: { type: 'string' },
        http: { type: 'string' },
        'max-rows': { type: 'string' },
        'max-bytes': { type: 'string' },
        'statement-timeout': { type: 'string' },
        'allow-unsafe-role': { type: 'boolean' },
        audit: { type: 'string' },
        principal: { type: 'string' },
        as: { type: 'string' },
        tool: { type: 'string' },
        source: { type: 'string' },
        role: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    })
  } catch (error) {
    // Node's message names the offending flag; it contains no secret (values are not echoed for unknown flags).
    return { ok: false, message: (error as Error).message.split('\n')[0] ?? 'invalid arguments' }
  }
  const { values, positionals } = parsed
  if (values.help) return { ok: true, command: 'help' }
  if (values.version) return { ok: true, command: 'version' }
  if (positionals[0] === 'keys') {
    if (positionals[1] !== 'new' || positionals.length > 2) return { ok: false, message: 'usage: sqlwarden keys new --principal NAME --role ROLE' }
    const principal = values.principal
    const roles = values.role ?? []
    const name = /^[A-Za-z0-9_.@-]{1,128}$/
    if (principal === undefined || !name.test(principal)) return { ok: false, message: '--principal: expected 1-128 of A-Z a-z 0-9 _ . @ -' }
    if (roles.length === 0 || !roles.every((r) => name.test(r))) return { ok: false, message: '--role: at least one, each 1-128 of A-Z a-z 0-9 _ . @ -' }
    return { ok: true, command: 'keys-new', keys: { principal, roles } }
  }
  if (positionals[0] === 'policy' && positionals[1] === 'explain') {
    const sql = positionals[2]
    const as = values.as
    if (sql === undefined || positionals.length !== 3 || as === undefined || !/^[A-Za-z0-9_.@-]{1,128}$/.test(as)) {
      return { ok: false, message: 'usage: sqlwarden policy explain --as PRINCIPAL [--role ROLE] [--tool TOOL] [--source SOURCE] "SQL"' }
    }
    return {
      ok: true,
      command: 'policy-explain',
      explain: { principal: as, roles: values.role ?? [], tool: values.tool ?? 'query', source: values.source, sql },
      overrides: {
        ...(values.config !== undefined ? { configFile: values.config } : {}),
        ...(values.db !== undefined ? { db: values.db } : {}),
        ...(values['allow-unsafe-role'] ? { allowUnsafeRole: true } : {}),
      },
    }
  }
  if (values.as !== undefined || values.tool !== undefined || values.source !== undefined) {
    return { ok: false, message: '--as, --tool and --source belong to `sqlwarden policy explain`' }
  }
  if (positionals[0] === 'policy') {
    if (positionals[1] !== 'check' || positionals.length !== 3 || positionals[2] === undefined) {
      return { ok: false, message: 'usage: sqlwarden policy check FILE [--config FILE]' }
    }
    return { ok: true, command: 'policy-check', file: positionals[2], overrides: values.config !== undefined ? { configFile: values.config } : {} }
  }
  if (values.principal !== undefined || values.role !== undefined) return { ok: false, message: '--principal and --role belong to `sqlwarden keys new`' }
  if (positionals.length > 1) return { ok: false, message: `unexpected argument: ${positionals[1]}` }
  const command = positionals[0] ?? 'serve'
  if (!(SUBCOMMANDS as readonly string[]).includes(command)) return { ok: false, message: `unknown command: ${command}` }

  const maxRows = integer(values['max-rows'], '--max-rows')
  if (typeof maxRows === 'string') return { ok: false, message: maxRows }
  const maxBytes = integer(values['max-bytes'], '--max-bytes')
  if (typeof maxBytes === 'string') return { ok: false, message: maxBytes }
  return {
    ok: true,
    command: command as Subcommand,
    overrides: {
      ...(values.db !== undefined ? { db: values.db } : {}),
      ...(values.config !== undefined ? { configFile: values.config } : {}),
      ...(values.http !== undefined ? { http: values.http } : {}),
      ...(maxRows !== undefined ? { maxRows } : {}),
      ...(maxBytes !== undefined ? { maxBytes } : {}),
      ...(values['statement-timeout'] !== undefined ? { statementTimeout: values['statement-timeout'] } : {}),
      ...(values['allow-unsafe-role'] ? { allowUnsafeRole: true } : {}),
      ...(values.audit !== undefined ? { audit: values.audit } : {}),
    },
  }
}

function integer(text: string | undefined, flag: string): number | undefined | string {
  if (text === undefined) return undefined
  if (!/^\d+$/.test(text)) return `${flag}: expected a positive whole number`
  const value = Number(text)
  return Number.isSafeInteger(value) && value > 0 ? value : `${flag}: expected a positive whole number`
}

export const USAGE = `Usage: sqlwarden [command] [options]

Governed, read-only SQL for AI agents over MCP (stdio by default).

Commands:
  (none)               serve MCP over stdio (or HTTP with --http)
  demo                 run a narrated session against the embedded demo database
  doctor               check the database role and any pooler in front, and print what to change
  policy check FILE     validate a policy file and print what each role can reach
  policy explain --as PRINCIPAL [--role ROLE] [--tool TOOL] [--source SOURCE] "SQL"
                       the decision for a call, with its reason, without running it
  keys new --principal NAME --role ROLE [--role ROLE…]
                       print a new HTTP API key once, and the config entry (hash only) to paste
  audit verify|search|stats [FILE|DIR|postgres://…]
                       check the audit chain, find calls, summarise them (sqlwarden audit --help)

Options:
  --db URL                     PostgreSQL URL (or DATABASE_URL); default: the embedded demo database
  --config FILE                YAML config file (or SQLWARDEN_CONFIG)
  --http HOST:PORT             serve Streamable HTTP instead of stdio (loopback only)
  --max-rows N                 rows per call (default 500; a call may lower it)
  --max-bytes N                bytes of row data per call (default 524288)
  --statement-timeout DURATION server-side statement timeout (default 30s)
  --allow-unsafe-role          run even as a superuser or BYPASSRLS role (not recommended)
  --audit FILE                 write the audit trail to FILE (JSONL, hash-chained)
  -h, --help                   show this help
  -v, --version                print the version
`
