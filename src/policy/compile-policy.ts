/**
 * Compiles a policy document once into frozen lookup tables, and answers phase A (before any SQL
 * is parsed): may this principal use this tool on this source, and with which database role and
 * limits. No policy configured means one local user with every read tool (the stdio default).
 */
import type { Principal } from '../pipeline/request-context.js'
import type { QuotaSpec } from '../quota/quota-schema.js'
import { fail, ok, type Result } from '../util/result.js'
import { POLICY_TOOLS, POLICY_WRITE_CLASSES, type PolicyDocument, type SourceGrant } from './policy-schema.js'
import { compileRelationRules, type RelationRules } from './relation-rules.js'

export interface ToolGrant {
  readonly dbRole: string | null
  readonly maxRows: number | null
  readonly statementTimeoutMs: number | null
  /** Phase B rules (schemas, tables, columns, masks); null when unrestricted. */
  readonly relations: RelationRules | null
  /**
   * User functions (`schema.name`) every granting role lists: they pass the function policy like
   * the source's allowFunctions, and under phase B rules they are the only user functions allowed.
   */
  readonly functions: ReadonlySet<string>
  /**
   * Write classes the call may use: for `execute`, the classes every granting role allows (the
   * intersection, never empty); for every other tool, none.
   */
  readonly writeClasses: ReadonlySet<WriteClass>
  /**
   * The strictest `maxCost` of the granting roles (EXPLAIN total cost per `query`); absent when no
   * granting role sets one. The pipeline combines it with the config's `limits.maxCost`.
   */
  readonly maxCost?: number
  /**
   * The quotas of every granting role that sets some (docs/quotas.md): each applies, so together
   * they are the strictest. Absent or empty: only the config's `quotas.defaults`.
   */
  readonly quotas?: readonly QuotaSpec[]
  /** Session settings for row-level security from the policy (exposed like claims). */
  readonly settings?: Readonly<Record<string, string>>
}

export type WriteClass = (typeof POLICY_WRITE_CLASSES)[number]

export interface CompiledPolicy {
  /** Phase A. Refusals never say whether the source exists. */
  authorize(principal: Principal, source: string, tool: string): Result<ToolGrant>
  /** The tools this principal may call on some source (for tools/list). */
  visibleTools(principal: Principal): ReadonlySet<string>
  /** Every database role the policy maps to, by source ("*" for all), for the start-up check. */
  dbRoles(): readonly { readonly source: string; readonly dbRole: string }[]
  /** What each role can reach, for `sqlwarden policy check`. */
  describe(): readonly PolicyReach[]
}

export interface PolicyReach extends ToolGrant {
  /** The grant as written, for `policy check` to print schemas, tables, columns and masks. */
  readonly rules: SourceGrant
  readonly role: string
  readonly source: string
  readonly tools: readonly string[]
}

const NO_WRITES: ReadonlySet<WriteClass> = new Set<WriteClass>()

const ALLOW_ALL: ToolGrant = Object.freeze({
  dbRole: null,
  maxRows: null,
  statementTimeoutMs: null,
  relations: null,
  functions: new Set<string>(),
  writeClasses: NO_WRITES,
})

/** No policy: every read tool for every caller. Writes stay off: `execute` needs a policy grant. */
export function allowAllPolicy(): CompiledPolicy {
  const all = new Set<string>(POLICY_TOOLS)
  return Object.freeze({
    authorize: (_p: Principal, _source: string, tool: string) => (all.has(tool) ? ok(ALLOW_ALL) : fail('ERR_POLICY_DENIED')),
    visibleTools: () => all,
    dbRoles: () => [],
    describe: () => [],
  })
}

interface Grant {
  readonly spec: SourceGrant
  readonly tools: ReadonlySet<string>
  readonly dbRole: string | null
  readonly maxRows: number | null
  readonly statementTimeoutMs: number | null
  readonly writeClasses: ReadonlySet<WriteClass>
  readonly maxCost: number | null
}

/** The grant's write classes; `read` (or no `access`) is none. */
function writeClassesOf(g: SourceGrant): ReadonlySet<WriteClass> {
  return g.access === undefined || g.access === 'read' ? NO_WRITES : new Set(g.access.write)
}

/**
 * A grant's tools: as listed, or every read tool plus (only with write access) `execute`. The write
 * tool is never granted without write access, whatever `tools` says (the schema refuses that too).
 */
function toolsOf(g: SourceGrant, writes: ReadonlySet<WriteClass>): ReadonlySet<string> {
  const listed: readonly string[] = g.tools ?? [...POLICY_TOOLS, 'execute']
  return new Set(listed.filter((t) => t !== 'execute' || writes.size > 0))
}

export function compilePolicy(doc: PolicyDocument): CompiledPolicy {
  const principals = new Map(Object.entries(doc.principals).map(([p, roles]) => [p, Object.freeze([...roles])]))
  const roles = new Map<string, ReadonlyMap<string, Grant>>()
  for (const [role, spec] of Object.entries(doc.roles)) {
    const bySource = new Map<string, Grant>()
    for (const [source, g] of Object.entries(spec.sources)) {
      const writeClasses = writeClassesOf(g)
      bySource.set(
        source,
        Object.freeze({
          spec: g,
          tools: toolsOf(g, writeClasses),
          dbRole: g.dbRole ?? null,
          maxRows: g.limits?.maxRows ?? null,
          statementTimeoutMs: g.limits?.statementTimeoutMs ?? null,
          writeClasses,
          maxCost: g.maxCost ?? null,
        }),
      )
    }
    roles.set(role, bySource)
  }

  // Rules per distinct set of grants, compiled once: authorize runs on every call.
  const rulesByKey = new Map<string, RelationRules | null>()
  const grantIds = new Map<Grant, number>()
  const rulesFor = (grants: Grant[]): RelationRules | null => {
    const key = grants.map((g) => {
      let id = grantIds.get(g)
      if (id === undefined) grantIds.set(g, (id = grantIds.size))
      return id
    }).join(',')
    if (!rulesByKey.has(key)) rulesByKey.set(key, compileRelationRules(grants.map((g) => g.spec)))
    return rulesByKey.get(key) ?? null
  }

  const rolesOf = (p: Principal): string[] => [...new Set([...p.roles, ...(principals.get(p.id) ?? [])])]
  const grantsFor = (p: Principal, source: string, tool: string): Grant[] =>
    rolesOf(p)
      .map((r) => roles.get(r)?.get(source) ?? roles.get(r)?.get('*'))
      .filter((g): g is Grant => g !== undefined && g.tools.has(tool))

  return Object.freeze({
    authorize(p: Principal, source: string, tool: string): Result<ToolGrant> {
      const grants = grantsFor(p, source, tool)
      if (grants.length === 0) return fail('ERR_POLICY_DENIED')
      // Several roles may grant the same call; they must agree on who it runs as (fail closed),
      // and the strictest limits apply.
      const dbRoles = new Set(grants.map((g) => g.dbRole))
      if (dbRoles.size > 1) return fail('ERR_POLICY_DENIED', { subject: 'conflicting_db_roles' })
      const strictest = (values: (number | null)[]) => {
        const set = values.filter((v): v is number => v !== null)
        return set.length === 0 ? null : Math.min(...set)
      }
      // Writes: the classes every granting role allows (stricter, never looser, D16/D18).
      let writeClasses: ReadonlySet<WriteClass> = NO_WRITES
      if (tool === 'execute') {
        writeClasses = new Set(POLICY_WRITE_CLASSES.filter((c) => grants.every((g) => g.writeClasses.has(c))))
        if (writeClasses.size === 0) return fail('ERR_POLICY_DENIED', { subject: 'no_common_write_class' })
      }
      // Session settings for RLS: every granting role that sets one must agree on its value.
      const settings: Record<string, string> = {}
      for (const g of grants) {
        for (const [name, value] of Object.entries(g.spec.settings ?? {})) {
          if (settings[name] !== undefined && settings[name] !== value) return fail('ERR_POLICY_DENIED', { subject: 'conflicting_settings' })
          settings[name] = value
        }
      }
      const maxCost = strictest(grants.map((g) => g.maxCost))
      const quotas = grants.flatMap((g) => (g.spec.quotas === undefined ? [] : [g.spec.quotas]))
      return ok({
        ...(Object.keys(settings).length === 0 ? {} : { settings: Object.freeze(settings) }),
        ...(quotas.length === 0 ? {} : { quotas }),
        ...(maxCost === null ? {} : { maxCost }),
        writeClasses,
        dbRole: grants[0]?.dbRole ?? null,
        maxRows: strictest(grants.map((g) => g.maxRows)),
        statementTimeoutMs: strictest(grants.map((g) => g.statementTimeoutMs)),
        relations: rulesFor(grants),
        functions: new Set((grants[0]?.spec.functions ?? []).filter((f) => grants.every((g) => g.spec.functions?.includes(f) === true))),
      })
    },
    visibleTools(p: Principal): ReadonlySet<string> {
      const tools = new Set<string>()
      for (const r of rolesOf(p)) for (const g of roles.get(r)?.values() ?? []) for (const t of g.tools) tools.add(t)
      return tools
    },
    describe() {
      return [...roles].flatMap(([role, bySource]) =>
        [...bySource].map(([source, g]) => ({
          dbRole: g.dbRole,
          maxRows: g.maxRows,
          statementTimeoutMs: g.statementTimeoutMs,
          relations: compileRelationRules([g.spec]),
          functions: new Set(g.spec.functions ?? []),
          writeClasses: g.writeClasses,
          ...(g.maxCost === null ? {} : { maxCost: g.maxCost }),
          rules: g.spec,
          role,
          source,
          tools: [...g.tools],
        })),
      )
    },
    dbRoles() {
      const out: { source: string; dbRole: string }[] = []
      for (const bySource of roles.values()) {
        for (const [source, g] of bySource) if (g.dbRole !== null) out.push({ source, dbRole: g.dbRole })
      }
      return out
    },
  })
}
