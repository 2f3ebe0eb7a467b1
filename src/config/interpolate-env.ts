/**
 * `${VAR}` interpolation for config files. An unset variable stops the start with a message that
 * names it (I8) instead of silently becoming an empty string or a literal `${VAR}` (a known failure
 * of peers: a DSN of `${DATABASE_URL}` sent to the driver). `$${` escapes a literal `${`.
 */

export type InterpolationResult = { ok: true; value: unknown } | { ok: false; message: string }

const VAR = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g

export function interpolateEnv(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  path: string = '',
): InterpolationResult {
  if (typeof value === 'string') {
    let missing: string | null = null
    const out = value.replace(VAR, (whole, name: string | undefined) => {
      if (name === undefined) return whole === '$${' ? '${' : whole
      const found = env[name]
      if (found === undefined || found === '') missing ??= name
      return found ?? ''
    })
    if (missing !== null) return { ok: false, message: `${path || '(root)'}: environment variable ${missing} is not set` }
    return { ok: true, value: out }
  }
  if (Array.isArray(value)) {
    const out: unknown[] = []
    for (const [i, item] of value.entries()) {
      const r = interpolateEnv(item, env, `${path}[${i}]`)
      if (!r.ok) return r
      out.push(r.value)
    }
    return { ok: true, value: out }
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) {
      const r = interpolateEnv(item, env, path ? `${path}.${key}` : key)
      if (!r.ok) return r
      out[key] = item === undefined ? undefined : r.value
    }
    return { ok: true, value: out }
  }
  return { ok: true, value }
}

