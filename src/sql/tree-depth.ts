/**
 * Nesting depth of a libpg-query JSON tree, measured without recursion: a deep tree is exactly the
 * input that would overflow a recursive walk (and every later stage that recurses), so the cap has
 * to be checked by something that cannot overflow itself.
 *
 * Every parse-tree object counts as one level, except the one-key wrappers libpg-query puts around
 * a node (`{ "FuncCall": {…} }`), which count together with the node they wrap. Arrays do not
 * count. So `SELECT 1` is 4 deep (SelectStmt → ResTarget → A_Const → Integer) and every nested
 * subquery adds about three levels.
 */

/** The depth of `root`, or `limit + 1` as soon as the walk finds a path deeper than `limit`. */
export function measureTreeDepth(root: unknown, limit: number): number {
  const values: unknown[] = [root]
  const depths: number[] = [0]
  let max = 0
  while (values.length > 0) {
    const value = values.pop()
    const depth = depths.pop() ?? 0
    if (typeof value !== 'object' || value === null) continue
    if (Array.isArray(value)) {
      for (const item of value) {
        values.push(item)
        depths.push(depth)
      }
      continue
    }
    const record = value as Record<string, unknown>
    // One pass over the keys: count them (a one-key node wrapper shares its node's level) and keep
    // only the values that can nest; primitives never add depth.
    let count = 0
    let first = ''
    for (const key in record) {
      if (count === 0) first = key
      count += 1
    }
    const level = count === 1 && isNodeTypeKey(first) ? depth : depth + 1
    if (level > limit) return limit + 1
    if (level > max) max = level
    for (const key in record) {
      const child = record[key]
      if (typeof child === 'object' && child !== null) {
        values.push(child)
        depths.push(level)
      }
    }
  }
  return max
}

/** Node type names start with an upper-case letter (`SelectStmt`, `A_Const`); field names do not. */
function isNodeTypeKey(key: string): boolean {
  const first = key.charCodeAt(0)
  return first >= 65 && first <= 90
}
