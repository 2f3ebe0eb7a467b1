import assert from 'node:assert/strict'
import path from 'node:path'
import { describe, it } from 'node:test'
import { compileCacheDir, defaultCacheRoot, resolveEmbeddedDataDir } from '../../../src/exec/embedded/embedded-paths.js'

describe('embedded-paths', () => {
  it('uses XDG_CACHE_HOME on Linux', () => {
    const environment = { env: { XDG_CACHE_HOME: '/xdg/cache' }, platform: 'linux' as const, homedir: '/home/ada' }
    assert.equal(resolveEmbeddedDataDir(undefined, environment), '/xdg/cache/sqlwarden/demo-pg18')
  })

  it('falls back to ~/.cache on Linux when XDG_CACHE_HOME is unset, empty or relative', () => {
    for (const env of [{}, { XDG_CACHE_HOME: '' }, { XDG_CACHE_HOME: 'relative/cache' }]) {
      const environment = { env, platform: 'linux' as const, homedir: '/home/ada' }
      assert.equal(resolveEmbeddedDataDir(undefined, environment), '/home/ada/.cache/sqlwarden/demo-pg18')
    }
  })

  it('uses ~/Library/Caches on macOS, even with XDG_CACHE_HOME set', () => {
    const environment = { env: { XDG_CACHE_HOME: '/xdg' }, platform: 'darwin' as const, homedir: '/Users/ada' }
    assert.equal(defaultCacheRoot(environment), '/Users/ada/Library/Caches/sqlwarden')
    assert.equal(resolveEmbeddedDataDir(undefined, environment), '/Users/ada/Library/Caches/sqlwarden/demo-pg18')
  })

  it('uses %LOCALAPPDATA% on Windows, with a fallback under the profile', () => {
    const withLocal = { env: { LOCALAPPDATA: 'C:\\Users\\ada\\AppData\\Local' }, platform: 'win32' as const, homedir: 'C:\\Users\\ada' }
    assert.equal(resolveEmbeddedDataDir(undefined, withLocal), 'C:\\Users\\ada\\AppData\\Local\\sqlwarden\\demo-pg18')
    const without = { env: {}, platform: 'win32' as const, homedir: 'C:\\Users\\ada' }
    assert.equal(defaultCacheRoot(without), 'C:\\Users\\ada\\AppData\\Local\\sqlwarden')
  })

  it('SQLWARDEN_CACHE_DIR replaces the cache root', () => {
    const environment = { env: { SQLWARDEN_CACHE_DIR: '/srv/cache', XDG_CACHE_HOME: '/xdg' }, platform: 'linux' as const, homedir: '/home/ada' }
    assert.equal(resolveEmbeddedDataDir(undefined, environment), '/srv/cache/demo-pg18')
  })

  it('the config dataDir wins over the environment and is resolved to an absolute path', () => {
    const environment = { env: { SQLWARDEN_CACHE_DIR: '/srv/cache' }, platform: 'linux' as const, homedir: '/home/ada' }
    assert.equal(resolveEmbeddedDataDir('/data/demo', environment), '/data/demo')
    assert.equal(resolveEmbeddedDataDir('rel/demo', environment), path.resolve('rel/demo'))
  })

  it('the compile cache sits under the same user-owned cache root, never a shared temporary directory', () => {
    const linux = { env: { XDG_CACHE_HOME: '/xdg/cache' }, platform: 'linux' as const, homedir: '/home/ada' }
    assert.equal(compileCacheDir(linux), '/xdg/cache/sqlwarden/compile-cache')
    const overridden = { env: { SQLWARDEN_CACHE_DIR: '/srv/cache', TMPDIR: '/tmp' }, platform: 'linux' as const, homedir: '/home/ada' }
    assert.equal(compileCacheDir(overridden), '/srv/cache/compile-cache')
    const mac = { env: {}, platform: 'darwin' as const, homedir: '/Users/ada' }
    assert.equal(compileCacheDir(mac), '/Users/ada/Library/Caches/sqlwarden/compile-cache')
  })
})
