/**
 * How many of the machine's cores were idle since this process started, beside its main thread:
 * what the import pool (`import-workers.ts`) asks before it starts a worker in a CLI process. The
 * load average lags by a minute and counts work that has ended (the previous command of a
 * script); the CPU times of the cores since the start say what the machine did while this
 * process ran. This process's own CPU time is taken out: its main thread counts as one core, and
 * its other threads (an import worker the CLI started ahead, `prestartImportWorker`) as idle, so
 * the measure says whether other processes leave a core free for a worker.
 *
 * The CLI imports this module first (`src/cli/main.ts`), so that the measure starts with the
 * process, not when the import's modules load: an import started early in a command (before the
 * node's modules load) can already tell.
 */
import { cpus } from 'node:os'

export interface CpuTimes {
  /** ms, summed over the cores. */
  idle: number
  total: number
  /** This process's CPU time (all its threads), ms. */
  own: number
  /** When they were read, ms since the epoch. */
  at: number
}

/** The machine's CPU time, ms, idle and in all, summed over its cores; this process's. */
function cpuTimes (): CpuTimes {
  let idle = 0
  let total = 0
  for (const { times } of cpus()) {
    idle += times.idle
    total += times.user + times.nice + times.sys + times.idle + times.irq
  }
  const { user, system } = process.cpuUsage()
  return { idle, total, own: (user + system) / 1000, at: Date.now() }
}

/** CPU times when this module loaded (in a CLI process: its start). */
const started = cpuTimes()

/**
 * Shortest time over which the measure says anything: the system counts CPU time in ticks of
 * 10 ms, so over 50 ms on 2 cores it is 10 ticks.
 */
export const IDLE_MIN_MS = 50
/** Longest: past it, the measure says more about this process's own start than about now. */
export const IDLE_MAX_MS = 5000

/**
 * Cores that neither other processes nor this process's main thread used, on average, since
 * this module loaded, when that was `IDLE_MIN_MS` to `IDLE_MAX_MS` ago; else undefined. Asking
 * the system costs about half a millisecond.
 */
export function idleCoresSinceStart (): number | undefined {
  return idleCoresBetween(started, cpuTimes(), cpus().length)
}

/** `idleCoresSinceStart` from two readings of the CPU times, on `cores` cores. */
export function idleCoresBetween (from: CpuTimes, to: CpuTimes, cores: number): number | undefined {
  const elapsed = to.at - from.at
  if (elapsed < IDLE_MIN_MS || elapsed > IDLE_MAX_MS || to.total <= from.total) return undefined
  const busy = (to.total - to.idle) - (from.total - from.idle)
  // The system counts in ticks of 10 ms, this process in microseconds: never below 0.
  const others = Math.max(0, busy - (to.own - from.own))
  return cores - 1 - others / ((to.total - from.total) / cores)
}
