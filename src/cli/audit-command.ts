/**
 * `sqlwarden audit verify|search|stats`: the reviewer's tools. They read a JSONL file (with its
 * rotated files), a directory of chains, or the PostgreSQL audit table; they never write.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { auditRecordSchema, type CallRecord } from '../audit/audit-record.js'
import { rotatedFiles, stem } from '../audit/jsonl-file-sink.js'
import { effectiveAudit } from '../audit/open-audit.js'
import { readChainLines, verifyLines, type SourceLine, type VerifyReport } from '../audit/verify-audit.js'
import { loadConfig } from '../config/load-config.js'
import type { AuditArgs, AuditFilters } from './audit-args.js'

type Out = NodeJS.WritableStream

/** Chains to read: each a label and its lines, oldest first. */
interface ChainInput {
  readonly label: string
  readonly files: readonly string[]
  readonly lines: readonly SourceLine[]
}

export async function runAudit(args: AuditArgs, out: Out = process.stdout, err: Out = process.stderr): Promise<number> {
  const target = resolveTarget(args)
  if (!target.ok) {
    err.write(`sqlwarden: ${target.message}\n`)
    return 2
  }
  let chains: ChainInput[]
  try {
    chains = await readChains(target.value, args.table)
  } catch (error) {
    err.write(`sqlwarden: cannot read ${redactUrl(target.value)}: ${(error as NodeJS.ErrnoException).code ?? 'error'}\n`)
    return 2
  }
  if (args.command === 'verify') return verify(chains, args, out, err)
  const records = chains.flatMap((c) => callRecords(c.lines)).filter((r) => matches(r, args.filters))
  records.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0))
  return args.command === 'search' ? search(records, args.limit, args.json, out) : stats(records, args.json, out)
}

function resolveTarget(args: AuditArgs): { ok: true; value: string } | { ok: false; message: string } {
  if (args.target !== undefined) return { ok: true, value: args.target }
  const loaded = loadConfig(args.configFile !== undefined ? { configFile: args.configFile } : {})
  if (!loaded.ok) return { ok: false, message: `ERR_CONFIG_INVALID: ${loaded.message}` }
  const audit = effectiveAudit(loaded.config)
  if (audit?.sink === 'postgres' && audit.postgres) return { ok: true, value: audit.postgres.url }
  if (audit?.file !== undefined) return { ok: true, value: audit.file }
  return { ok: false, message: 'no audit file configured: name one (sqlwarden audit verify FILE) or use --config' }
}

async function readChains(target: string, table: string): Promise<ChainInput[]> {
  if (/^postgres(ql)?:\/\//.test(target)) {
    const { readAuditTable } = await import('../audit/postgres-audit-sink.js')
    const chains = await readAuditTable(target, table)
    return [...chains].map(([chain, records]) => ({
      label: `${table} chain ${chain}`,
      files: [`${table}:${chain}`],
      lines: records.map((text, index) => ({ file: `${table}:${chain}`, line: index + 1, text, unterminated: false })),
    }))
  }
  const active: string[] = []
  if (existsSync(target) && statSync(target).isDirectory()) {
    // Every chain in the directory: each active file, or the stem of rotated files without one.
    const stems = new Set<string>()
    for (const name of readdirSync(target)) {
      if (!name.endsWith('.jsonl')) continue
      const m = /^(.*)\.\d{6}\.\d{8}T\d{9}Z\.jsonl$/.exec(name)
      stems.add(m?.[1] ?? stem(name))
    }
    for (const s of [...stems].sort()) active.push(join(target, `${s}.jsonl`))
  } else {
    active.push(target)
  }
  const out: ChainInput[] = []
  for (const file of active) {
    const files = [...(await rotatedFiles(file)), ...(existsSync(file) ? [file] : [])]
    if (files.length === 0) throw Object.assign(new Error('missing'), { code: 'ENOENT' })
    out.push({ label: file, files, lines: readChainLines(files) })
  }
  return out
}

function verify(chains: readonly ChainInput[], args: Extract<AuditArgs, { command: 'verify' }>, out: Out, err: Out): number {
  let key: Buffer | null = null
  try {
    const text = args.keyFile !== undefined ? readFileSync(args.keyFile, 'utf8').trim() : process.env.SQLWARDEN_AUDIT_KEY
    key = text !== undefined && text !== '' ? Buffer.from(text, 'utf8') : null
  } catch {
    err.write('sqlwarden: --key-file: cannot be read\n')
    return 2
  }
  const reports = chains.map((c) => ({ label: c.label, report: verifyLines(c.lines, c.files, { key, anchors: args.anchors }) }))
  if (args.json) {
    out.write(`${JSON.stringify(reports.map((r) => ({ target: r.label, ...r.report })), null, 2)}\n`)
  } else {
    for (const { label, report } of reports) out.write(describe(label, report))
  }
  return reports.every((r) => r.report.ok) ? 0 : 1
}

function describe(label: string, r: VerifyReport): string {
  const lines: string[] = []
  const range = r.first && r.last ? `seq ${r.first.seq}..${r.last.seq}` : 'no records'
  if (r.ok) {
    lines.push(`OK ${label}: ${r.records} records in ${r.files.length} file${r.files.length === 1 ? '' : 's'}, chain ${r.chain ?? '-'}, ${range}`)
    if (r.last) lines.push(`  last record: ${r.last.file}:${r.last.line} seq ${r.last.seq} hash ${r.last.hash}`)
  } else {
    const b = r.break
    lines.push(`BROKEN ${label}: ${b?.kind} at ${b?.at.file}:${b?.at.line}${b?.at.seq !== null ? ` (seq ${b?.at.seq})` : ''}: ${b?.detail}`)
    lines.push(`  ${r.records} records verified before the break${r.last ? `, up to seq ${r.last.seq}` : ''}`)
  }
  if (r.recoveredTornLines > 0) lines.push(`  ${r.recoveredTornLines} torn line(s) from a crash, closed off and recorded by the next start record`)
  if (r.tornTail) lines.push(`  torn tail: the last line of ${r.tornTail.file} is incomplete (${r.tornTail.bytes} bytes; a write cut off by a crash, for a call whose result was not returned)`)
  return `${lines.join('\n')}\n`
}

function callRecords(lines: readonly SourceLine[]): CallRecord[] {
  const out: CallRecord[] = []
  for (const line of lines) {
    try {
      const parsed = auditRecordSchema.safeParse(JSON.parse(line.text))
      if (parsed.success && parsed.data.kind === 'call') out.push(parsed.data)
    } catch {
      // Torn or foreign lines are verify's business; search and stats skip them.
    }
  }
  return out
}

function matches(r: CallRecord, f: AuditFilters): boolean {
  const t = Date.parse(r.time)
  return (
    (f.principal === undefined || r.principal === f.principal) &&
    (f.since === undefined || t >= f.since) &&
    (f.until === undefined || t <= f.until) &&
    (f.decision === undefined || r.decision === f.decision) &&
    (f.reason === undefined || r.reason === f.reason) &&
    (f.tool === undefined || r.tool === f.tool) &&
    (f.fingerprint === undefined || r.fingerprint === f.fingerprint)
  )
}

function search(records: readonly CallRecord[], limit: number, json: boolean, out: Out): number {
  const shown = records.slice(-limit)
  if (json) {
    for (const r of shown) out.write(`${JSON.stringify(r)}\n`)
    return 0
  }
  const rows = shown.map((r) => [
    r.time.replace('T', ' ').replace('Z', ''),
    r.principal ?? '-',
    r.tool ?? '-',
    r.decision,
    r.reason ?? '',
    r.rows === null ? '' : String(r.rows),
    `${r.duration_ms.toFixed(1)}ms`,
    oneLine(r.normalized_sql ?? '', 60),
  ])
  out.write(table(['time (UTC)', 'principal', 'tool', 'decision', 'reason', 'rows', 'took', 'statement'], rows))
  out.write(`${shown.length} of ${records.length} matching call${records.length === 1 ? '' : 's'}\n`)
  return 0
}

function stats(records: readonly CallRecord[], json: boolean, out: Out): number {
  const count = <K>(key: (r: CallRecord) => K | null) => {
    const m = new Map<K, number>()
    for (const r of records) {
      const k = key(r)
      if (k !== null) m.set(k, (m.get(k) ?? 0) + 1)
    }
    return [...m].sort((a, b) => b[1] - a[1])
  }
  const denials = count((r) => (r.decision === 'allow' ? null : r.reason))
  const principals = count((r) => r.principal)
  const fingerprints = count((r) => r.fingerprint)
  const sqlOf = new Map(records.filter((r) => r.fingerprint !== null).map((r) => [r.fingerprint, r.normalized_sql]))
  const decisions = count((r) => r.decision)
  const first = records[0]?.time ?? null
  const last = records[records.length - 1]?.time ?? null
  if (json) {
    out.write(
      `${JSON.stringify({ calls: records.length, from: first, to: last, decisions: Object.fromEntries(decisions), denials_by_reason: Object.fromEntries(denials), top_principals: principals.slice(0, 10), top_fingerprints: fingerprints.slice(0, 10).map(([f, n]) => ({ fingerprint: f, calls: n, sql: sqlOf.get(f) ?? null })) }, null, 2)}\n`,
    )
    return 0
  }
  out.write(`${records.length} calls${first ? ` from ${first} to ${last}` : ''}: ${decisions.map(([d, n]) => `${n} ${d}`).join(', ') || 'none'}\n\n`)
  out.write(table(['denials and errors by reason', 'calls'], denials.map(([k, n]) => [String(k), String(n)])))
  out.write('\n')
  out.write(table(['top principals', 'calls'], principals.slice(0, 10).map(([k, n]) => [String(k), String(n)])))
  out.write('\n')
  out.write(table(['top fingerprints', 'calls', 'statement'], fingerprints.slice(0, 10).map(([k, n]) => [String(k), String(n), oneLine(sqlOf.get(k) ?? '', 60)])))
  return 0
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return `${[line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')}\n`
}

function redactUrl(target: string): string {
  return target.replace(/\/\/[^@/]*@/, '//***@')
}
