/**
 * Evaluated just before `pg` (see pg-module.ts). pg 8 decides when it loads (lib/stream.js) whether
 * it runs in a Cloudflare Worker: from `navigator.userAgent` where there is a navigator (Node 21 and
 * later), and otherwise by constructing a web `Response`, which on Node 20 loads the whole fetch
 * implementation: about 20 ms of every start. While pg evaluates, this gives it the answer Node 21
 * would; pg-module.ts removes the navigator again as soon as pg is loaded. Nothing but pg and its
 * own dependencies (none of which reads `navigator`) is evaluated in between.
 */
const holder = globalThis as { navigator?: unknown }

/** True when this module defined the navigator and must remove it. */
export const definedNavigator = holder.navigator === undefined

if (definedNavigator) holder.navigator = { userAgent: `Node.js/${process.versions.node.split('.')[0] ?? ''}` }

export function removeNavigator(): void {
  if (definedNavigator) delete holder.navigator
}
