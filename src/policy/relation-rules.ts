/**
 * What one call may read, compiled from the policy grants that allow it (phase B rules): schemas,
 * tables and columns, with masks. A grant with none of these is unrestricted (null
 * rules); a call allowed by several grants gets all their rules at once: a relation must be allowed
 * by every restricted grant, a column denied or masked by any of them is denied or masked (the
 * strongest mask wins). Stricter, never looser,
 * like the dbRole and limits of the same grants (decision D18).
 *
 * Names are compared exactly as the catalog stores them.
 */
import { createHash } from 'node:crypto'
import type { MaskSpec, SourceGrant } from './policy-schema.js'

/** A mask as the rewrite applies it. */
export type Mask =
  | { readonly kind: 'redact' }
  | { readonly kind: 'hash' }
  | { readonly kind: 'partial'; readonly keepFirst: number; readonly keepLast: number }

export type ColumnRule = { readonly kind: 'allow' } | { readonly kind: 'deny' } | Mask

/** Schemas whose relations a restricted grant reads only when it names them explicitly. */
export const CATALOG_SCHEMAS: ReadonlySet<string> = new Set(['pg_catalog', 'information_schema', 'pg_toast'])

export interface RelationRules {
  /** Stable over equal rules: part of cache keys for rewritten statements. */
  readonly key: string
  /** May this relation be read at all (before looking at its columns)? */
  relationAllowed(schema: string, name: string): boolean
  /** Is the schema worth listing (something in it may be allowed)? */
  schemaVisible(schema: string): boolean
  /** The rule for one column of one relation. */
  columnRule(schema: string, table: string, column: string): ColumnRule
  /** Does any rule name a column of this relation (so reading it needs the column rewrite)? */
  hasColumnRules(schema: string, table: string): boolean
}

interface GrantRules {
  readonly schemaAllow: ReadonlySet<string> | null
  readonly schemaDeny: ReadonlySet<string>
  readonly tableAllow: ReadonlySet<string> | null
  readonly tableDeny: ReadonlySet<string>
  readonly columns: ReadonlyMap<string, { readonly allow: ReadonlySet<string> | null; readonly deny: ReadonlySet<string> }>
  readonly masks: ReadonlyMap<string, ReadonlyMap<string, Mask>>
}

const ALLOW: ColumnRule = Object.freeze({ kind: 'allow' })
const DENY: ColumnRule = Object.freeze({ kind: 'deny' })

/** True when the grant has any phase B rule. */
export function isRestricted(grant: SourceGrant): boolean {
  return grant.schemas !== undefined || grant.tables !== undefined || grant.columns !== undefined || grant.masks !== undefined
}

/** Rules for a call allowed by these grants; null when none of them is restricted. */
export function compileRelationRules(grants: readonly SourceGrant[]): RelationRules | null {
  const restricted = grants.filter(isRestricted)
  if (restricted.length === 0) return null
  const compiled = restricted.map(compileGrant)
  const key = createHash('sha256')
    .update(JSON.stringify(restricted.map((g) => [g.schemas, g.tables, g.columns, g.masks, g.functions ?? []])))
    .digest('base64url')

  return Object.freeze({
    key,
    relationAllowed: (schema: string, name: string) => compiled.every((g) => grantAllowsRelation(g, schema, name)),
    schemaVisible: (schema: string) =>
      compiled.every(
        (g) =>
          !g.schemaDeny.has(schema) &&
          (g.schemaAllow?.has(schema) === true ||
            [...(g.tableAllow ?? [])].some((t) => t.startsWith(`${schema}.`)) ||
            (g.schemaAllow === null && g.tableAllow === null && !CATALOG_SCHEMAS.has(schema))),
      ),
    columnRule(schema: string, table: string, column: string): ColumnRule {
      const qualified = `${schema}.${table}`
      let strongest: ColumnRule = ALLOW
      for (const g of compiled) {
        const rule = g.columns.get(qualified)
        if (rule !== undefined && (rule.deny.has(column) || (rule.allow !== null && !rule.allow.has(column)))) return DENY
        const mask = g.masks.get(qualified)?.get(column)
        if (mask !== undefined && maskStrength(mask) > maskStrength(strongest)) strongest = mask
      }
      return strongest
    },
    hasColumnRules: (schema: string, table: string) =>
      compiled.some((g) => g.columns.has(`${schema}.${table}`) || g.masks.has(`${schema}.${table}`)),
  })
}

function compileGrant(grant: SourceGrant): GrantRules {
  const columns = new Map<string, { allow: ReadonlySet<string> | null; deny: ReadonlySet<string> }>()
  for (const [table, rule] of Object.entries(grant.columns ?? {})) {
    columns.set(table, { allow: rule.allow ? new Set(rule.allow) : null, deny: new Set(rule.deny ?? []) })
  }
  const masks = new Map<string, Map<string, Mask>>()
  for (const [table, byColumn] of Object.entries(grant.masks ?? {})) {
    masks.set(table, new Map(Object.entries(byColumn).map(([column, spec]) => [column, toMask(spec)])))
  }
  return {
    schemaAllow: grant.schemas?.allow ? new Set(grant.schemas.allow) : null,
    schemaDeny: new Set(grant.schemas?.deny ?? []),
    tableAllow: grant.tables?.allow ? new Set(grant.tables.allow) : null,
    tableDeny: new Set(grant.tables?.deny ?? []),
    columns,
    masks,
  }
}

/**
 * Deny lists win; with an allow list (of schemas, tables or both) the relation must be on one of
 * them; catalog schemas are readable only when named in an allow list, because their views leak
 * other tables' values (`pg_stats`) and other sessions' queries (`pg_stat_activity`).
 */
function grantAllowsRelation(g: GrantRules, schema: string, name: string): boolean {
  const qualified = `${schema}.${name}`
  if (g.schemaDeny.has(schema) || g.tableDeny.has(qualified)) return false
  const onAllowList = g.schemaAllow?.has(schema) === true || g.tableAllow?.has(qualified) === true
  if (CATALOG_SCHEMAS.has(schema) || schema.startsWith('pg_temp') || schema.startsWith('pg_toast')) return onAllowList
  if (g.schemaAllow === null && g.tableAllow === null) return true
  return onAllowList
}

function toMask(spec: MaskSpec): Mask {
  if (spec === 'redact') return { kind: 'redact' }
  if (spec === 'hash') return { kind: 'hash' }
  return { kind: 'partial', keepFirst: spec.partial.keepFirst, keepLast: spec.partial.keepLast }
}

/** redact hides most, then hash (joinable), then partial (shows some characters). */
function maskStrength(rule: ColumnRule): number {
  switch (rule.kind) {
    case 'redact':
      return 3
    case 'hash':
      return 2
    case 'partial':
      return 1
    default:
      return 0
  }
}
