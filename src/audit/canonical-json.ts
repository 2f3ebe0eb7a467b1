/**
 * Canonical JSON for hashing (the subset of RFC 8785 JCS our records use): object keys sorted by
 * UTF-16 code units, no whitespace, strings and numbers as JSON.stringify writes them (which is
 * JCS's serialisation for finite numbers). `undefined` members are left out, as JSON.stringify
 * does. Anything else (NaN, Infinity, bigint, functions) throws: a record that cannot be hashed
 * exactly must not be written. Sorting is by UTF-16 code units (Array#sort's default), as JCS.
 */
export function canonicalJson(value: unknown): string {
  // JSON.stringify with a key list writes every object's members in the list's order (and only
  // those): the sorted union of all keys gives the canonical order in one native pass.
  const keys = new Set<string>()
  collectKeys(value, keys)
  const text = JSON.stringify(value, [...keys].sort())
  if (text === undefined) throw new TypeError('canonicalJson: cannot encode the value')
  return text
}

function collectKeys(value: unknown, keys: Set<string>): void {
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number')
      return
    case 'bigint':
    case 'function':
    case 'symbol':
      throw new TypeError(`canonicalJson: cannot encode ${typeof value}`)
    case 'object':
      if (value === null) return
      if (Array.isArray(value)) {
        for (const item of value) collectKeys(item, keys)
        return
      }
      for (const key of Object.keys(value)) {
        keys.add(key)
        collectKeys((value as Record<string, unknown>)[key], keys)
      }
      return
    default:
      return
  }
}

/** Sorted key lists by the insertion-order key list of a record shape (records repeat shapes). */
const sortedKeysByShape = new Map<string, readonly string[]>()

/**
 * The same text as canonicalJson for a flat record whose nested objects already have sorted keys
 * (the writer builds them so): keys sorted once per shape, then one native JSON.stringify. Anything
 * else falls back to canonicalJson. test/unit/audit/canonical-json.test.ts checks the two agree.
 */
export function canonicalRecordJson(record: Readonly<Record<string, unknown>>): string {
  const keys = Object.keys(record)
  const shape = `${keys.length}\u0000${keys.join('\u0000')}`
  let sorted = sortedKeysByShape.get(shape)
  if (sorted === undefined) {
    // Integer-like keys are always written first by JSON.stringify, whatever the insertion order.
    // `__proto__` cannot be set as an own property of a plain object by assignment.
    if (keys.some((k) => /^(0|[1-9]\d*)$/.test(k) || k === '__proto__')) return canonicalJson(record)
    sorted = [...keys].sort()
    if (sortedKeysByShape.size < 64) sortedKeysByShape.set(shape, sorted)
  }
  const ordered: Record<string, unknown> = {}
  for (const key of sorted) {
    const value = record[key]
    if (value === undefined) continue
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number')
    if (typeof value === 'object' && value !== null && !Array.isArray(value) && !keysSorted(value)) return canonicalJson(record)
    if (Array.isArray(value) && value.some((item) => typeof item === 'object' && item !== null)) return canonicalJson(record)
    ordered[key] = value
  }
  return JSON.stringify(ordered)
}

function keysSorted(value: object): boolean {
  const keys = Object.keys(value)
  for (let i = 1; i < keys.length; i += 1) if ((keys[i - 1] as string) >= (keys[i] as string)) return false
  for (const key of keys) {
    const item = (value as Record<string, unknown>)[key]
    if (typeof item === 'object' && item !== null) return false
    if (typeof item === 'number' && !Number.isFinite(item)) return false
  }
  return true
}
