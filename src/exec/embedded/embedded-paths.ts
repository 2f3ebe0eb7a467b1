/**
 * Where the embedded demo database lives on disk. It is a cache, not user data: it can be deleted
 * at any time and is rebuilt on the next start, so it belongs in the platform's cache directory,
 * never next to the user's files. The directory name carries the PostgreSQL major version so a
 * PGlite upgrade to a new major builds a fresh copy instead of opening an incompatible one.
 */
import { homedir } from 'node:os'
import path from 'node:path'

/** Name of the directory under the cache root. Bump the suffix when the PostgreSQL major changes. */
export const EMBEDDED_DIR_NAME = 'demo-pg18'

/** Overrides the cache root (not the data dir itself): `$SQLWARDEN_CACHE_DIR/demo-pg18`. */
export const CACHE_DIR_ENV = 'SQLWARDEN_CACHE_DIR'

export interface PathEnvironment {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly platform: NodeJS.Platform
  readonly homedir: string
}

/** This process's environment, platform and home directory; `env` may be given instead of process.env. */
export function currentEnvironment(env: PathEnvironment['env'] = process.env): PathEnvironment {
  return { env, platform: process.platform, homedir: homedir() }
}

/** `path.win32` on Windows, `path.posix` elsewhere, so tests can check every platform anywhere. */
function pathFor(platform: NodeJS.Platform): path.PlatformPath {
  return platform === 'win32' ? path.win32 : path.posix
}

/** A value from the environment, ignoring empty strings (an unset-but-exported variable). */
function nonEmpty(value: string | undefined): string | null {
  return value !== undefined && value.trim() !== '' ? value : null
}

/**
 * The platform cache root for sqlwarden: XDG on Linux and other Unixes, `~/Library/Caches` on
 * macOS, `%LOCALAPPDATA%` on Windows. XDG requires an absolute path; a relative one is ignored.
 */
export function defaultCacheRoot(environment: PathEnvironment = currentEnvironment()): string {
  const p = pathFor(environment.platform)
  const { env, platform } = environment
  if (platform === 'win32') {
    const local = nonEmpty(env['LOCALAPPDATA'])
    return p.join(local ?? p.join(environment.homedir, 'AppData', 'Local'), 'sqlwarden')
  }
  if (platform === 'darwin') {
    return p.join(environment.homedir, 'Library', 'Caches', 'sqlwarden')
  }
  const xdg = nonEmpty(env['XDG_CACHE_HOME'])
  const root = xdg !== null && p.isAbsolute(xdg) ? xdg : p.join(environment.homedir, '.cache')
  return p.join(root, 'sqlwarden')
}

/**
 * The data directory of the embedded source. Precedence: the source's `dataDir` in config (the
 * directory itself), then `$SQLWARDEN_CACHE_DIR` (a cache root, `demo-pg18` is appended), then the
 * platform default. Relative paths are resolved against the working directory, once, here.
 */
export function resolveEmbeddedDataDir(
  configDataDir?: string,
  environment: PathEnvironment = currentEnvironment(),
): string {
  const p = pathFor(environment.platform)
  if (configDataDir !== undefined && configDataDir.trim() !== '') return p.resolve(configDataDir)
  return p.join(cacheRoot(environment), EMBEDDED_DIR_NAME)
}

/**
 * sqlwarden's cache root: `$SQLWARDEN_CACHE_DIR` (resolved against the working directory), else the
 * platform default. The embedded database, the compile cache and the default audit file live here.
 */
export function cacheRoot(environment: PathEnvironment = currentEnvironment()): string {
  const override = nonEmpty(environment.env[CACHE_DIR_ENV])
  return override !== null ? pathFor(environment.platform).resolve(override) : defaultCacheRoot(environment)
}

/**
 * Node's compile cache for sqlwarden's own start-up (src/cli/main.ts): under the same cache root as
 * the embedded database, so it is the user's own directory and never a shared temporary one (a
 * compile cache others can write to is code they can run).
 */
export function compileCacheDir(environment: PathEnvironment = currentEnvironment()): string {
  return pathFor(environment.platform).join(cacheRoot(environment), 'compile-cache')
}
