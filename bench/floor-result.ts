/** The result both floor servers answer with: sqlwarden's `query` shape, from a rowMode 'array' result. */
import type pg from 'pg'

export function floorResult(result: pg.QueryArrayResult) {
  const structured = {
    columns: result.fields.map((f) => ({ name: f.name, type: String(f.dataTypeID) })),
    rows: result.rows as unknown[][],
    row_count: result.rows.length,
    truncated: false,
  }
  return { content: [{ type: 'text' as const, text: JSON.stringify(structured) }], structuredContent: structured }
}
