/**
 * Reads, validates (strict) and compiles the policy named by `policy` in the config: a file, or a
 * document written inline in the config (already validated by the same strict policySchema when the
 * config was parsed). Every error names the file or `policy.` and the key; a policy that names a
 * source the config lacks is refused.
 */
import { readFileSync } from 'node:fs'
import { parseYaml } from '../config/parse-yaml.js'
import { allowAllPolicy, compilePolicy, type CompiledPolicy } from './compile-policy.js'
import { policySchema, type PolicyDocument } from './policy-schema.js'

export type LoadPolicyResult = { ok: true; policy: CompiledPolicy } | { ok: false; message: string }

/**
 * `policy`: a file path, an inline document from the config, or undefined (allow all).
 * `sourceNames` null: the names are not checked (policy check without a config).
 */
export function loadPolicy(
  policy: string | PolicyDocument | undefined,
  sourceNames: readonly string[] | null,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): LoadPolicyResult {
  if (policy === undefined) return { ok: true, policy: allowAllPolicy() }
  if (typeof policy !== 'string') return checkAndCompile(policy, sourceNames, (key) => `policy.${key}`)
  const file = policy
  let parsed: unknown
  try {
    parsed = parseYaml(readFile(file), { uniqueKeys: true })
  } catch {
    return { ok: false, message: `policy ${file}: cannot be read or is not valid YAML` }
  }
  const result = policySchema.safeParse(parsed)
  if (!result.success) {
    const issue = result.error.issues[0]
    const keys = issue && 'keys' in issue && Array.isArray(issue.keys) ? ` ${issue.keys.join(', ')}` : ''
    return { ok: false, message: `policy ${file}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}${keys}` }
  }
  return checkAndCompile(result.data, sourceNames, (key) => `policy ${file}: ${key}`)
}

function checkAndCompile(doc: PolicyDocument, sourceNames: readonly string[] | null, at: (key: string) => string): LoadPolicyResult {
  for (const [role, spec] of Object.entries(doc.roles)) {
    for (const source of Object.keys(spec.sources)) {
      if (source !== '*' && sourceNames !== null && !sourceNames.includes(source)) {
        return { ok: false, message: `${at(`roles.${role}.sources.${source}`)}: no such source in the config` }
      }
    }
  }
  return { ok: true, policy: compilePolicy(doc) }
}
