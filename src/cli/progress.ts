import { createRequire } from 'node:module'
import type cliProgressModule from 'cli-progress'
import type { GlobalOptions } from './output.ts'

// Loaded only when a bar is shown (a terminal, no --json): most runs never draw one.
const require = createRequire(import.meta.url)

/** A progress bar on stderr for long work; silent with --json or when stderr is not a terminal. */
export interface ProgressBar {
  update (value: number, payload?: Record<string, unknown>): void
  stop (): void
}

export function progressBar (options: GlobalOptions, label: string, total: number | undefined, unit: string): ProgressBar {
  if (options.json === true || process.stderr.isTTY !== true || process.env.CI != null) return { update () {}, stop () {} }
  const cliProgress = require('cli-progress') as typeof cliProgressModule
  const bar = new cliProgress.SingleBar({
    format: total != null ? `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {extra}` : `${label} {value} ${unit} | {extra}`,
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: true
  }, cliProgress.Presets.shades_classic)
  bar.start(total ?? 0, 0, { extra: '' })
  return {
    update: (value, payload) => { bar.update(value, { extra: '', ...payload }) },
    stop: () => { bar.stop() }
  }
}
