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
