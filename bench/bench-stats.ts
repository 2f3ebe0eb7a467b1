/** Small measurement helpers: percentiles and a process's CPU time and peak RSS from /proc. */
import { readFileSync } from 'node:fs'

export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index] ?? Number.NaN
}

const CLOCK_TICKS_PER_SECOND = 100

/** User + system CPU milliseconds consumed so far by a process (Linux /proc). */
export function cpuMs(pid: number): number {
  const { user, system } = cpuSplitMs(pid)
  return user + system
}

/** User and system CPU milliseconds consumed so far by a process, apart. */
export function cpuSplitMs(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return { user: (utime * 1000) / CLOCK_TICKS_PER_SECOND, system: (stime * 1000) / CLOCK_TICKS_PER_SECOND }
}

/** Peak resident set size in MiB (VmHWM) of a process. */
export function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /VmHWM:\s+(\d+) kB/.exec(status)
  return match?.[1] ? Number(match[1]) / 1024 : Number.NaN
}

/** A deterministic PRNG, so every run asks for the same keys. */
export { createSeededRandom as prng } from '../src/util/seeded-random.js'

export function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a'
}

/** One call of a benchmarked client, with the key to look up. */
export type Caller = (id: number) => Promise<void>

/** `concurrency` loops calling `caller` until `ms` have passed: calls, elapsed ms and every latency. */
export async function burst(caller: Caller, nextId: () => number, concurrency: number, ms: number) {
  const latencies: number[] = []
  const deadline = performance.now() + ms
  let calls = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now()
        await caller(nextId())
        latencies.push(performance.now() - t0)
        calls++
      }
    }),
  )
  return { calls, elapsed: performance.now() - started, latencies }
}

/** `concurrency` loops calling `caller` until `n` calls have been made in all. */
export async function callsInFlight(caller: Caller, nextId: () => number, concurrency: number, n: number): Promise<void> {
  let started = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < n) {
        started++
        await caller(nextId())
      }
    }),
  )
}

/**
 * Drives a server at 32 in flight, in windows of `window` calls, until its CPU per call stops
 * falling (V8 is still compiling the hot paths for the first thousands of calls, longer over HTTP,
 * where every request builds its own Server): it stops when two windows in a row did not beat the
 * best window so far by more than 5%, or after `maxWindows`. Returns the calls made and the CPU per
 * call of the first and the last window, so the cold cost is printed too.
 */
export async function warmUntilSteady(
  caller: Caller,
  pid: number,
  nextId: () => number,
  window: number,
  maxWindows: number,
): Promise<{ calls: number; firstMs: number; lastMs: number }> {
  let best = Number.POSITIVE_INFINITY
  let first = Number.NaN
  let last = Number.NaN
  let stale = 0
  let windows = 0
  while (windows < maxWindows && stale < 2) {
    const cpu0 = cpuMs(pid)
    await callsInFlight(caller, nextId, 32, window)
    last = (cpuMs(pid) - cpu0) / window
    if (windows === 0) first = last
    windows++
    if (last < best * 0.95) stale = 0
    else stale++
    best = Math.min(best, last)
  }
  return { calls: windows * window, firstMs: first, lastMs: last }
}
