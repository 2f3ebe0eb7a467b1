/**
 * Reads, validates (strict) and compiles the policy file named by `policy` in the config. Every
 * error names the file and the key; a policy that names a source the config lacks is refused.
 */
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { allowAllPolicy, compilePolicy, type CompiledPolicy } from './compile-policy.js'
import { policySchema } from './policy-schema.js'

export type LoadPolicyResult = { ok: true; policy: CompiledPolicy } | { ok: false; message: string }

/** `sourceNames` null: the names are not checked (policy check without a config). */
export function loadPolicy(
  file: string | undefined,
  sourceNames: readonly string[] | null,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): LoadPolicyResult {
  if (file === undefined) return { ok: true, policy: allowAllPolicy() }
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
  for (const [role, spec] of Object.entries(result.data.roles)) {
    for (const source of Object.keys(spec.sources)) {
      if (source !== '*' && sourceNames !== null && !sourceNames.includes(source)) return { ok: false, message: `policy ${file}: roles.${role}.sources.${source}: no such source in the config` }
    }
  }
  return { ok: true, policy: compilePolicy(result.data) }
}
