/**
 * The default sink: one JSON record per line, appended to a file opened with O_APPEND.
 *
 * - Durability `write`: a batch resolves once write(2) has returned (the kernel holds it: survives
 *   a crash of this process). `fsync`: after fdatasync(2) (survives an OS crash). Batches are
 *   whatever queued while the previous one was being written (group commit, audit-log.ts).
 * - One writer per file: a lock file (`<file>.lock`, our pid) is taken at open; a live other
 *   writer makes open fail, a dead one's lock is taken over. Two writers would interleave chains.
 * - Rotation by size or age: the active file is renamed to `<base>.<UTC time>.jsonl` and a new one
 *   starts with a `rotate` record that links to the last record of the old one; the chain goes on.
 * - Start: the last complete line gives the chain to continue; an unterminated last line (a crash
 *   in the middle of write(2)) is closed with a newline and reported in the `start` record.
 * - A failed append truncates the file back to its last good size when it can; when it cannot,
 *   the next batch is preceded by a newline and the partial line is reported like a torn tail.
 */
import { closeSync, openSync, readSync, fstatSync, writeSync, unlinkSync, readFileSync, existsSync } from 'node:fs'
import { open, rename, readdir, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { AuditSink, ChainTail, SinkState } from './audit-sink.js'

export interface JsonlFileSinkOptions {
  readonly file: string
  readonly durability: 'write' | 'fsync'
  /** Rotate when the active file would grow past this many bytes (0: never). */
  readonly rotateBytes?: number
  /** Rotate when the active file is older than this (0: never). */
  readonly rotateMs?: number
  readonly now?: () => number
}

const TAIL_WINDOW = 1024 * 1024

export class JsonlFileSink implements AuditSink {
  readonly description: string
  readonly #options: JsonlFileSinkOptions
  #handle: FileHandle | null = null
  #size = 0
  #openedAt = 0
  #lockTaken = false

  constructor(options: JsonlFileSinkOptions) {
    this.#options = options
    this.description = options.file
  }

  /** With `write` durability, an append is one synchronous write(2). */
  get synchronous(): boolean {
    return this.#options.durability === 'write'
  }

  async open(): Promise<SinkState> {
    this.#takeLock()
    const state = await this.#openActive()
    return state
  }

  async append(lines: string): Promise<void> {
    const handle = this.#handle
    if (handle === null) throw new Error('audit sink is closed')
    const buffer = Buffer.from(lines, 'utf8')
    // One write(2), synchronously: a few microseconds on an O_APPEND file, where a trip through
    // libuv's thread pool would cost tens. fdatasync (durability fsync) stays off the event loop.
    let written = 0
    while (written < buffer.length) {
      const bytesWritten = writeSync(handle.fd, buffer, written, buffer.length - written)
      if (bytesWritten <= 0) throw new Error('audit write made no progress')
      written += bytesWritten
    }
    if (this.#options.durability === 'fsync') await handle.datasync()
    this.#size += buffer.length
  }

  async recover(): Promise<SinkState> {
    // Put the file back to its last good size; if that fails, reopen and close off the damage.
    if (this.#handle !== null) {
      try {
        await this.#handle.truncate(this.#size)
        // The chain continues from what is in the file now (a timed-out append may have landed).
        return { tail: readTail(this.#options.file).tail, tornTailBytes: 0 }
      } catch {
        await this.#handle.close().catch(() => undefined)
        this.#handle = null
      }
    }
    return this.#openActive()
  }

  async close(): Promise<void> {
    await this.#handle?.close().catch(() => undefined)
    this.#handle = null
    if (this.#lockTaken) {
      try {
        unlinkSync(this.#lockFile())
      } catch {
        // Already gone: nothing to release.
      }
      this.#lockTaken = false
    }
  }

  #lockFile(): string {
    return `${this.#options.file}.lock`
  }

  #takeLock(): void {
    const lock = this.#lockFile()
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        const fd = openSync(lock, 'wx', 0o600)
        writeSync(fd, String(process.pid))
        closeSync(fd)
        this.#lockTaken = true
        return
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
        const pid = Number(readLockPid(lock))
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
          throw new Error(`another sqlwarden process (pid ${pid}) writes this audit file`)
        }
        unlinkSync(lock)
      }
    }
    throw new Error('cannot take the audit file lock')
  }

  async #openActive(): Promise<SinkState> {
    const file = this.#options.file
    // The tail of the active file, or else of the newest rotated file.
    let tail: ChainTail | null = null
    let tornTailBytes = 0
    if (existsSync(file)) {
      const read = readTail(file)
      tail = read.tail
      tornTailBytes = read.tornBytes
    }
    if (tail === null && tornTailBytes === 0) {
      const rotated = await rotatedFiles(file)
      const newest = rotated[rotated.length - 1]
      if (newest !== undefined) tail = readTail(newest).tail
    }
    const handle = await open(file, 'a', 0o600)
    if (tornTailBytes > 0) {
      await handle.write('\n')
      if (this.#options.durability === 'fsync') await handle.datasync()
    }
    const stat = await handle.stat()
    this.#handle = handle
    this.#size = stat.size
    this.#openedAt = (this.#options.now ?? Date.now)()
    return { tail, tornTailBytes }
  }

  shouldRotate(incoming: number): boolean {
    const { rotateBytes = 0, rotateMs = 0 } = this.#options
    if (this.#size === 0) return false
    if (rotateBytes > 0 && this.#size + incoming > rotateBytes) return true
    return rotateMs > 0 && (this.#options.now ?? Date.now)() - this.#openedAt >= rotateMs
  }

  /**
   * Renames the active file aside and opens a fresh one; returns the old file's new name:
   * `<base>.<6-digit rotation number>.<UTC time>.jsonl`, so names sort in chain order even when
   * two rotations fall in the same millisecond.
   */
  async rotate(): Promise<string> {
    const file = this.#options.file
    await this.#handle?.close()
    this.#handle = null
    const existing = await rotatedFiles(file)
    const last = existing[existing.length - 1]
    const number = last === undefined ? 1 : Number(basename(last).slice(stem(file).length + 1, stem(file).length + 7)) + 1
    const stamp = new Date((this.#options.now ?? Date.now)()).toISOString().replace(/[-:]/g, '').replace('.', '')
    const target = join(dirname(file), `${stem(file)}.${String(number).padStart(6, '0')}.${stamp}.jsonl`)
    await rename(file, target)
    this.#handle = await open(file, 'a', 0o600)
    this.#size = 0
    this.#openedAt = (this.#options.now ?? Date.now)()
    return basename(target)
  }
}

/** `audit.jsonl` → `audit`. */
export function stem(file: string): string {
  const name = basename(file)
  return name.endsWith('.jsonl') ? name.slice(0, -'.jsonl'.length) : name
}

/** Rotated files of an active file, oldest first (their names sort by time). */
export async function rotatedFiles(file: string): Promise<string[]> {
  const dir = dirname(file)
  const prefix = `${stem(file)}.`
  const names = await readdir(dir).catch(() => [] as string[])
  return names
    .filter((n) => n.startsWith(prefix) && /^\d{6}\.\d{8}T\d{9}Z\.jsonl$/.test(n.slice(prefix.length)))
    .sort()
    .map((n) => join(dir, n))
}

/**
 * The last complete record of a file, and the length of an unterminated last line. Reads the last
 * MiB (records are a few hundred bytes; recorded SQL is capped), and the whole file only when no
 * complete record is in that window.
 */
export function readTail(file: string): { tail: ChainTail | null; tornBytes: number } {
  const fd = openSync(file, 'r')
  try {
    const size = fstatSync(fd).size
    if (size === 0) return { tail: null, tornBytes: 0 }
    for (const window of [TAIL_WINDOW, size]) {
      const start = Math.max(0, size - window)
      const buffer = Buffer.alloc(size - start)
      readSync(fd, buffer, 0, buffer.length, start)
      const lastNewline = buffer.lastIndexOf(0x0a)
      const tornBytes = buffer.length - (lastNewline + 1)
      if (lastNewline === -1 && start > 0) continue
      const parts = buffer.subarray(0, lastNewline + 1).toString('utf8').split('\n')
      for (let index = parts.length - 1; index >= (start > 0 ? 1 : 0); index -= 1) {
        const tail = parseTail(parts[index] ?? '')
        if (tail !== null) return { tail, tornBytes }
      }
      if (start === 0) return { tail: null, tornBytes }
    }
    return { tail: null, tornBytes: 0 }
  } finally {
    closeSync(fd)
  }
}

function parseTail(line: string): ChainTail | null {
  if (line.trim() === '') return null
  try {
    const value = JSON.parse(line) as { chain?: unknown; seq?: unknown; hash?: unknown }
    if (typeof value.chain === 'string' && typeof value.seq === 'number' && typeof value.hash === 'string') {
      return { chain: value.chain, seq: value.seq, hash: value.hash }
    }
  } catch {
    // Not a record: keep looking further back.
  }
  return null
}

function readLockPid(lock: string): string {
  try {
    return readFileSync(lock, 'utf8').trim()
  } catch {
    return ''
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
