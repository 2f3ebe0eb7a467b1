/**
 * What a call used, for its budgets: rows and bytes of what the tool returned (its structured
 * output), and the database time measured around the tool's execution step.
 */
import type { BudgetKind } from './quota-plan.js'

/** Rows a tool's output carries: `row_count`, or the length of its listing. */
export function rowsOf(output: unknown): number {
  const o = (output ?? {}) as { row_count?: unknown; tables?: unknown; schemas?: unknown; columns?: unknown }
  if (typeof o.row_count === 'number') return o.row_count
  for (const list of [o.tables, o.schemas, o.columns]) if (Array.isArray(list)) return list.length
  return 0
}

/** Bytes of row data returned (UTF-8 JSON of `rows`, or of the whole output for listing tools); only when a bytes budget asks. */
export function bytesOf(output: unknown, needs: ReadonlySet<BudgetKind>): number {
  if (!needs.has('bytes')) return 0
  const rows = (output as { rows?: unknown } | null)?.rows
  return Buffer.byteLength(JSON.stringify(rows ?? output ?? null), 'utf8')
}
