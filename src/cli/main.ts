#!/usr/bin/env node
/**
 * The `sqlwarden` command's entry. Before anything else loads, it turns on Node's on-disk compile
 * cache where Node has one (22.1 and later; Node 20 has none, and this does nothing there). A start
 * is mostly compiling modules, and a start that finds them compiled is faster (README →
 * Performance, cold start). The cache is in sqlwarden's cache directory (embedded-paths.ts);
 * `NODE_DISABLE_COMPILE_CACHE=1` turns it off. The command itself is run-cli.ts.
 */
import module from 'node:module'
import { compileCacheDir } from '../exec/embedded/embedded-paths.js'

const enableCompileCache = (module as { enableCompileCache?: (directory: string) => unknown }).enableCompileCache
try {
  enableCompileCache?.(compileCacheDir())
} catch {
  // A cache that cannot be used (a read-only home, say) only costs start-up time.
}
await import('./run-cli.js')
