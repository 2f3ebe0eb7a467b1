/**
 * Text-format PostgreSQL values → their JSON meaning. Rows arrive in text format (the driver binds
 * result format 0), so every conversion starts from the server's own output under the settings the
 * read transaction fixes (`DateStyle 'ISO, MDY'`, `IntervalStyle postgres`, `bytea_output hex`,
 * `extra_float_digits 1`). Nothing goes through JS `Date`, and no value that could lose precision is
 * turned into a JS number: int8 and numeric stay exact strings.
 */
import { parse as parsePgArray } from 'postgres-array'
import type { JsonValue } from '../driver.js'

/**
 * How one scalar's text becomes JSON. `text` keeps the server's text unchanged (enums, ranges,
 * composites, network and geometric types, int8, numeric, money, interval, …).
 */
export type ValueKind = 'text' | 'int' | 'float' | 'bool' | 'json' | 'bytea' | 'date' | 'timestamp' | 'timestamptz'

/** What the converter needs to know about one column type. */
export interface ValueType {
  /** The scalar kind, or the element kind when `array` is true. */
  readonly kind: ValueKind
  readonly array: boolean
  /** The element type's `typdelim` (`,` for everything built in except `box`, which uses `;`). */
  readonly delimiter: string
}

export function convertValue(text: string | null, type: ValueType): JsonValue {
  if (text === null) return null
  if (!type.array) return convertScalar(text, type.kind)
  if (type.delimiter === ',') {
    return parsePgArray<JsonValue>(text, (element) => convertScalar(element, type.kind))
  }
  return parseDelimitedArray(text, type.delimiter, type.kind)
}

export function convertScalar(text: string, kind: ValueKind): JsonValue {
  switch (kind) {
    case 'text':
      return text
    case 'int':
      // int2, int4 and oid all fit a double exactly.
      return Number(text)
    case 'float':
      return floatValue(text)
    case 'bool':
      return text === 't'
    case 'json':
      // Server output only: the text was produced by json_out/jsonb_out, so it is valid JSON.
      return JSON.parse(text) as JsonValue
    case 'bytea':
      return byteaToBase64(text)
    case 'date':
      return isoDate(text)
    case 'timestamp':
      return isoTimestamp(text, false)
    case 'timestamptz':
      return isoTimestamp(text, true)
  }
}

/** JSON has no NaN or infinities, so they travel as the strings PostgreSQL itself prints. */
function floatValue(text: string): JsonValue {
  if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') return text
  return Number(text)
}

function byteaToBase64(text: string): string {
  if (text.startsWith('\\x')) return Buffer.from(text.slice(2), 'hex').toString('base64')
  return decodeEscapedBytea(text).toString('base64')
}

/** `bytea_output = escape` form; the read transaction sets hex, this is only a fallback. */
function decodeEscapedBytea(text: string): Buffer {
  const bytes: number[] = []
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    if (ch === 0x5c && text[i + 1] === '\\') {
      bytes.push(0x5c)
      i += 1
    } else if (ch === 0x5c && /^[0-7]{3}$/.test(text.slice(i + 1, i + 4))) {
      bytes.push(parseInt(text.slice(i + 1, i + 4), 8))
      i += 3
    } else {
      bytes.push(...Buffer.from(text[i] ?? '', 'utf8'))
    }
  }
  return Buffer.from(bytes)
}

/**
 * ISO 8601 year. PostgreSQL prints `0044-03-15 BC`; ISO 8601 (and ECMAScript) use astronomical
 * numbering, where 1 BC is year 0, with a sign and six digits outside 0000–9999: `-000043-03-15`.
 */
function isoYear(digits: string, bc: boolean): string {
  const year = bc ? 1 - Number(digits) : Number(digits)
  if (year >= 0 && year <= 9999) return String(year).padStart(4, '0')
  return (year < 0 ? '-' : '+') + String(Math.abs(year)).padStart(6, '0')
}

const DATE_RE = /^(\d{4,})-(\d{2})-(\d{2})( BC)?$/

/** `2024-01-02` stays; `infinity`/`-infinity` stay; BC and years past 9999 use the expanded form. */
function isoDate(text: string): string {
  const m = DATE_RE.exec(text)
  if (m === null) return text
  return `${isoYear(m[1] ?? '', m[4] !== undefined)}-${m[2]}-${m[3]}`
}

const TIMESTAMP_RE = /^(\d{4,})-(\d{2})-(\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)([+-]\d{2}(?::\d{2}){0,2})?( BC)?$/

/**
 * `2024-01-02 03:04:05.123456+00` → `2024-01-02T03:04:05.123456+00:00`. Microseconds are kept as
 * printed; the offset is the session time zone's, completed to `±HH:MM`. Text that does not match
 * (`infinity`, `-infinity`) is returned unchanged, so a value is never invented.
 */
function isoTimestamp(text: string, withZone: boolean): string {
  const m = TIMESTAMP_RE.exec(text)
  if (m === null) return text
  const [, year = '', month, day, time, offset, bc] = m
  if (withZone !== (offset !== undefined)) return text
  const zone = offset === undefined ? '' : offset.length === 3 ? `${offset}:00` : offset
  return `${isoYear(year, bc !== undefined)}-${month}-${day}T${time}${zone}`
}

/**
 * Arrays whose element type uses a delimiter other than `,` (built in: `box[]`, `;`). Their
 * elements never need quoting (box output has no braces, quotes or delimiters), but the parser
 * still honours quotes and backslashes so that a user-defined type with its own delimiter works.
 */
function parseDelimitedArray(text: string, delimiter: string, kind: ValueKind): JsonValue {
  let source = text
  if (source.startsWith('[')) source = source.slice(source.indexOf('=') + 1)
  let pos = 0
  const parseLevel = (): JsonValue[] => {
    const out: JsonValue[] = []
    pos += 1 // '{'
    let current = ''
    let quoted = false
    let sawQuote = false
    let nested = false
    const finish = () => {
      if (nested) nested = false
      else if (sawQuote) out.push(convertScalar(current, kind))
      else if (current.length > 0) out.push(current === 'NULL' ? null : convertScalar(current, kind))
      current = ''
      sawQuote = false
    }
    while (pos < source.length) {
      const ch = source[pos] ?? ''
      if (quoted) {
        if (ch === '\\') {
          current += source[pos + 1] ?? ''
          pos += 2
          continue
        }
        if (ch === '"') quoted = false
        else current += ch
        pos += 1
      } else if (ch === '"') {
        quoted = true
        sawQuote = true
        pos += 1
      } else if (ch === '{') {
        out.push(parseLevel())
        nested = true
      } else if (ch === '}') {
        finish()
        pos += 1
        return out
      } else if (ch === delimiter) {
        finish()
        pos += 1
      } else {
        current += ch
        pos += 1
      }
    }
    return out
  }
  return parseLevel()
}
