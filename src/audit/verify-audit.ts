/**
 * Verification of a chain: every record's hash, every link, every sequence number, and the files
 * of a rotated chain in order. Reports the first break with where it is and what kind it is:
 *
 * - `modified`: a record's content no longer matches its hash (or its line is not a record);
 * - `deleted`: sequence numbers jump (records are missing inside a file);
 * - `inserted`: a sequence number repeats, or a record of another chain sits in this one;
 * - `reordered`: sequence numbers go backwards;
 * - `truncated`: the chain's beginning is missing, a rotated file is missing or ends early, or an
 *   anchor (a record known from elsewhere, e.g. a SIEM) is not in the chain;
 * - `wrong_key`: keyed records do not verify with the key given (or no key was given).
 *
 * Without a key, anyone who can write the file can rewrite the whole chain after a point, with
 * valid hashes; the HMAC key, or an anchor kept elsewhere, is what makes that detectable. A torn
 * last line (a crash in the middle of a write, for a call whose result was never returned) is
 * reported as a torn tail, not a break; a torn line that a later `start` record accounts for is
 * recovered.
 */
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { GENESIS_PREV, recordHash } from './audit-chain.js'
import { auditRecordSchema, type AuditRecord } from './audit-record.js'

export const BREAK_KINDS = ['modified', 'deleted', 'inserted', 'reordered', 'truncated', 'wrong_key'] as const
export type BreakKind = (typeof BREAK_KINDS)[number]

export interface Position {
  readonly file: string
  /** 1-based line number in that file. */
  readonly line: number
  readonly seq: number | null
}

export interface ChainBreak {
  readonly kind: BreakKind
  readonly at: Position
  readonly detail: string
}

export interface VerifyReport {
  readonly ok: boolean
  readonly records: number
  readonly files: readonly string[]
  readonly chain: string | null
  readonly first: Position | null
  readonly last: (Position & { readonly hash: string }) | null
  readonly break: ChainBreak | null
  readonly tornTail: { readonly file: string; readonly bytes: number } | null
  readonly recoveredTornLines: number
}

export interface VerifyOptions {
  readonly key: Buffer | null
  /** `seq:hash` pairs that must be in the chain, exactly. */
  readonly anchors?: readonly { readonly seq: number; readonly hash: string }[]
}

/** One line of input, from a file or a table. */
export interface SourceLine {
  readonly file: string
  readonly line: number
  readonly text: string
  /** True for the last line of the last file when it has no newline (a torn write). */
  readonly unterminated: boolean
}

/** Lines of the files of one chain, oldest file first. */
export function readChainLines(files: readonly string[]): SourceLine[] {
  const out: SourceLine[] = []
  files.forEach((file, fileIndex) => {
    const text = readFileSync(file, 'utf8')
    const parts = text.split('\n')
    const terminated = text.endsWith('\n') || text === ''
    if (terminated) parts.pop()
    parts.forEach((part, index) => {
      out.push({
        file: basename(file),
        line: index + 1,
        text: part,
        unterminated: !terminated && index === parts.length - 1 && fileIndex === files.length - 1,
      })
    })
  })
  return out
}

export function verifyLines(lines: readonly SourceLine[], files: readonly string[], options: VerifyOptions): VerifyReport {
  let previous: { record: AuditRecord; at: Position } | null = null
  let chain: string | null = null
  let first: Position | null = null
  let records = 0
  let recoveredTornLines = 0
  let keyedChecked = 0
  let tornTail: VerifyReport['tornTail'] = null
  const anchors = new Map((options.anchors ?? []).map((a) => [a.seq, a.hash]))
  const seenAnchors = new Set<number>()

  const report = (brk: ChainBreak | null): VerifyReport => ({
    ok: brk === null,
    records,
    files: files.map((f) => basename(f)),
    chain,
    first,
    last: previous === null ? null : { ...previous.at, hash: previous.record.hash },
    break: brk,
    tornTail,
    recoveredTornLines,
  })

  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index] as SourceLine
    const at0: Position = { file: line.file, line: line.line, seq: null }
    if (line.text === '' && index === lines.length - 1) break
    const parsed = parseRecord(line.text)
    if (parsed === null) {
      if (line.unterminated) {
        tornTail = { file: line.file, bytes: Buffer.byteLength(line.text) }
        break
      }
      const next = parseRecord(lines[index + 1]?.text ?? '')
      if (next?.kind === 'start' && next.torn_tail_bytes === Buffer.byteLength(line.text)) {
        recoveredTornLines += 1
        continue
      }
      return report({ kind: 'modified', at: at0, detail: 'this line is not an audit record' })
    }
    const record = parsed
    const at: Position = { file: line.file, line: line.line, seq: record.seq }

    // The record's own hash.
    const keyed = record.alg === 'hmac-sha256'
    if (keyed && options.key === null) {
      return report({ kind: 'wrong_key', at, detail: 'the records are keyed (hmac-sha256) and no key was given' })
    }
    if (recordHash(record.raw, keyed ? options.key : null) !== record.hash) {
      if (keyed && keyedChecked === 0) {
        const next = parseRecord(lines[index + 1]?.text ?? '')
        const nextAlsoFails =
          next === null || recordHash(next.raw, options.key) !== next.hash
        if (nextAlsoFails) return report({ kind: 'wrong_key', at, detail: 'the records do not verify with this key' })
      }
      return report({ kind: 'modified', at, detail: 'the content does not match the record hash' })
    }
    if (keyed) keyedChecked += 1

    // The link to the record before.
    if (previous === null) {
      chain = record.chain
      first = at
      if (record.seq !== 0 || record.prev !== GENESIS_PREV) {
        return report({ kind: 'truncated', at, detail: `the chain starts at seq ${record.seq}: its beginning is missing` })
      }
    } else {
      const prev = previous.record
      const crossesFile = previous.at.file !== line.file
      if (record.chain !== prev.chain) {
        return report({ kind: 'inserted', at, detail: 'a record of another chain' })
      }
      // A new file starts with a `rotate` record naming the one before, or with a `start` record
      // (a restart after a rotation, before anything else was written); either way the link holds.
      if (crossesFile && (record.kind === 'call' || (record.kind === 'rotate' && record.previous_file !== previous.at.file))) {
        return report({ kind: 'truncated', at, detail: `the file before this one in the chain is not ${previous.at.file}` })
      }
      if (record.seq > prev.seq + 1) {
        // Missing here but present further on: moved, not removed.
        const later = lines.slice(index + 1).some((l) => {
          const r = parseRecord(l.text)
          return r !== null && r.chain === record.chain && r.seq > prev.seq && r.seq < record.seq
        })
        return report({
          kind: later ? 'reordered' : crossesFile ? 'truncated' : 'deleted',
          at,
          detail: later ? `seq ${prev.seq + 1}..${record.seq - 1} come later` : `seq ${prev.seq + 1}..${record.seq - 1} missing`,
        })
      }
      if (record.seq < prev.seq) return report({ kind: 'reordered', at, detail: `seq ${record.seq} after seq ${prev.seq}` })
      if (record.seq === prev.seq) return report({ kind: 'inserted', at, detail: `seq ${record.seq} appears twice` })
      if (record.prev !== prev.hash) {
        return report({ kind: 'modified', at: previous.at, detail: 'the next record does not link to this one' })
      }
    }
    const anchor = anchors.get(record.seq)
    if (anchor !== undefined) {
      if (anchor !== record.hash) return report({ kind: 'modified', at, detail: 'the anchor for this seq has another hash' })
      seenAnchors.add(record.seq)
    }
    previous = { record, at }
    records += 1
  }
  for (const seq of anchors.keys()) {
    if (!seenAnchors.has(seq)) {
      const at: Position = previous?.at ?? { file: files[0] ? basename(files[0]) : '', line: 0, seq: null }
      return report({ kind: 'truncated', at, detail: `the anchor at seq ${seq} is not in the chain` })
    }
  }
  return report(null)
}

/** A line as a record: valid against the schema, and hashed as written (never as re-encoded). */
function parseRecord(text: string): (AuditRecord & { readonly raw: Record<string, unknown> }) | null {
  if (text.trim() === '') return null
  try {
    const raw = JSON.parse(text) as unknown
    const parsed = auditRecordSchema.safeParse(raw)
    return parsed.success ? Object.assign(parsed.data, { raw: raw as Record<string, unknown> }) : null
  } catch {
    return null
  }
}
