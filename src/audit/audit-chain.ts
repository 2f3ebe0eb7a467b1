/**
 * The hash chain. Each record's `hash` is SHA-256 (or, with a key, HMAC-SHA-256) over the
 * canonical JSON of the record without its `hash`, and that JSON includes `prev`, the previous
 * record's hash. Editing, removing, inserting or reordering a record breaks a link; with a key,
 * a writer who does not hold it cannot compute valid hashes for forged records at all.
 */
import { createHash, createHmac } from 'node:crypto'
import { canonicalJson } from './canonical-json.js'

/** `prev` of the first record of a new chain. */
export const GENESIS_PREV = '0'.repeat(64)

export function recordHash(record: Record<string, unknown>, key: Buffer | null): string {
  const { hash: _omitted, ...content } = record
  void _omitted
  return hashText(canonicalJson(content), key)
}

/** The hash of a record's canonical text (without its `hash` field). */
export function hashText(canonical: string, key: Buffer | null): string {
  return key === null ? createHash('sha256').update(canonical).digest('hex') : createHmac('sha256', key).update(canonical).digest('hex')
}

/** SHA-256 of any JSON value's canonical form: config and policy hashes in start records. */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex')
}
