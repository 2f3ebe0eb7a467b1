/** Freezes an object graph in place (Kysely/Fastify: config is frozen after validation). */
export function deepFreeze<T>(value: T): T {
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const item = stack.pop()
    if (item === null || typeof item !== 'object' || Object.isFrozen(item)) continue
    Object.freeze(item)
    for (const key of Reflect.ownKeys(item)) {
      stack.push((item as Record<PropertyKey, unknown>)[key])
    }
  }
  return value
}
