/**
 * How many of the machine's cores were idle since this process started: what the import pool
 * (`import-workers.ts`) asks before it starts a worker in a CLI process. The load average lags by
 * a minute and counts work that has ended (the previous command of a script); the CPU times of
 * the cores since the start say what the machine did while this process ran.
 *
 * The CLI imports this module first (`src/cli/main.ts`), so that the measure starts with the
 * process, not when the import's modules load: an import started early in a command (before the
 * node's modules load) can already tell.
 */
import { cpus } from 'node:os'

interface CpuTimes {
  /** ms, summed over the cores. */
  idle: number
  total: number
  /** When they were read, ms since the epoch. */
  at: number
}

/** The machine's CPU time, ms, idle and in all, summed over its cores. */
function cpuTimes (): CpuTimes {
  let idle = 0
  let total = 0
  for (const { times } of cpus()) {
    idle += times.idle
    total += times.user + times.nice + times.sys + times.idle + times.irq
  }
  return { idle, total, at: Date.now() }
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
 * Cores idle on average since this module loaded, when that was `IDLE_MIN_MS` to `IDLE_MAX_MS`
 * ago; else undefined. Asking the system costs about half a millisecond.
 */
export function idleCoresSinceStart (): number | undefined {
  const now = cpuTimes()
  const elapsed = now.at - started.at
  if (elapsed < IDLE_MIN_MS || elapsed > IDLE_MAX_MS || now.total <= started.total) return undefined
  return (now.idle - started.idle) / (now.total - started.total) * cpus().length
}
