/** Parses `250ms`, `30s`, `2m`, `1h` or a bare number of milliseconds. Returns null when invalid. */
export function parseDuration(text: string): number | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text)
  if (!match || match[1] === undefined) return null
  const value = Number(match[1])
  const unit = match[2] ?? 'ms'
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000
  const ms = Math.round(value * factor)
  return Number.isSafeInteger(ms) ? ms : null
}
