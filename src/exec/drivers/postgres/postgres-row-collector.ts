/**
 * The rows of one read, under its caps (I6). Each DataRow is converted as it arrives and measured
 * as the UTF-8 length of its JSON encoding; the row that would pass maxRows or maxBytes is not
 * kept and marks the result truncated. Columns of types the TypeCache does not know yet are
 * converted as text at first and converted again (and re-measured) once the catalog has answered.
 */
import type { ColumnInfo, JsonValue, ReadResult } from '../driver.js'
import type { PgType, TypeCache } from './postgres-types.js'
import { convertValue } from './postgres-values.js'

export interface FieldDescription {
  readonly name: string
  readonly dataTypeID: number
}

export interface PortalRows {
  readonly columns: readonly ColumnInfo[]
  readonly rows: readonly JsonValue[][]
  readonly truncatedBy: 'rows' | 'bytes' | null
  readonly bytes: number
}

/** The rows as the core sees them (a read's answer, a write's RETURNING rows). */
export function readResult({ columns, rows, truncatedBy, bytes }: PortalRows): ReadResult {
  return { columns, rows, rowCount: rows.length, truncated: truncatedBy !== null, truncatedBy, bytes }
}

const TEXT_TYPE: PgType = { name: 'unknown', kind: 'text', array: false, delimiter: ',' }

export class RowCollector {
  readonly #maxRows: number
  readonly #maxBytes: number
  readonly #cache: TypeCache
  #fields: readonly FieldDescription[] = []
  #types: PgType[] = []
  #unknownTypes = false
  #rows: JsonValue[][] = []
  /** Server text of kept rows, only while some column type is still unknown. */
  #raw: (string | null)[][] = []
  #bytes = 0
  #received = 0
  #truncatedBy: 'rows' | 'bytes' | null = null
  #failed = false

  constructor(maxRows: number, maxBytes: number, cache: TypeCache) {
    this.#maxRows = maxRows
    this.#maxBytes = maxBytes
    this.#cache = cache
  }

  /** DataRows seen, kept or not. */
  get received(): number {
    return this.#received
  }

  /** A cap was hit or a value could not be converted: no further row matters. */
  get done(): boolean {
    return this.#truncatedBy !== null || this.#failed
  }

  get failed(): boolean {
    return this.#failed
  }

  /** OIDs among the columns that the cache cannot name yet. */
  unknownOids(): number[] {
    return this.#cache.unknown(this.#fields.map((f) => f.dataTypeID))
  }

  describe(fields: readonly FieldDescription[]): void {
    this.#fields = fields
    this.#types = fields.map((f) => this.#cache.getOrText(f.dataTypeID))
    this.#unknownTypes = this.unknownOids().length > 0
  }

  /** Returns true when this row made the result final (a cap was reached). */
  add(fields: (string | null)[]): boolean {
    this.#received += 1
    if (this.done) return false
    if (this.#rows.length >= this.#maxRows) {
      this.#truncatedBy = 'rows'
      return true
    }
    if (!this.#keep(fields)) return true
    if (this.#unknownTypes) this.#raw.push(fields)
    return false
  }

  /** How many rows to ask for next: grow ×4, stay near what the byte budget can still hold. */
  nextChunk(rowsLeft: number, lastChunk: number): number {
    const avg = this.#rows.length > 0 ? Math.max(1, this.#bytes / this.#rows.length) : 1
    const byBytes = Math.ceil((this.#maxBytes - this.#bytes) / avg) + 1
    return Math.max(1, Math.min(rowsLeft, lastChunk * 4, byBytes))
  }

  /** After the catalog named the unknown types: convert the kept rows again under the caps. */
  retype(): void {
    if (!this.#unknownTypes) return
    this.#unknownTypes = false
    this.#types = this.#fields.map((f) => this.#cache.getOrText(f.dataTypeID))
    const raw = this.#raw
    this.#raw = []
    this.#rows = []
    this.#bytes = 0
    for (const fields of raw) if (!this.#keep(fields)) break
  }

  result(): PortalRows {
    const columns = this.#fields.map((f, i) => ({ name: f.name, type: (this.#types[i] ?? TEXT_TYPE).name }))
    return { columns, rows: this.#rows, truncatedBy: this.#truncatedBy, bytes: this.#bytes }
  }

  /** Converts and keeps one row if it fits the byte cap; false when it did not. */
  #keep(fields: readonly (string | null)[]): boolean {
    let row: JsonValue[]
    try {
      // Runs inside pg's socket callback: a throw here would take the process down.
      row = fields.map((text, i) => convertValue(text, this.#types[i] ?? TEXT_TYPE))
    } catch {
      this.#failed = true
      return false
    }
    const size = Buffer.byteLength(JSON.stringify(row))
    if (this.#bytes + size > this.#maxBytes) {
      this.#truncatedBy = 'bytes'
      return false
    }
    this.#rows.push(row)
    this.#bytes += size
    return true
  }
}
