/**
 * How the benchmarks judge their goals. One rule everywhere: a goal is met only when its
 * measurement exists and meets the bound. A measurement that is missing (null, NaN), or a ratio
 * whose anchor failed, was skipped or measured nothing, is `met: false` with a `reason`: a
 * comparison that was not made is not a comparison that was won.
 */

/** The bound of one goal: the value must be at least `atLeast`, or below `below`. */
export type Bound = { atLeast: number, below?: undefined } | { below: number, atLeast?: undefined }

/** One judged goal. `reason` says why it is not met when the value is missing or not clean. */
export interface Judged {
  value: number | null
  met: boolean
  reason?: string
}

/** A value, or why there is none (an anchor that failed or was skipped). */
export type Measurement = number | null | undefined | { missing: string }

function missingReason (m: Measurement, fallback: string): string | null {
  if (m == null) return fallback
  if (typeof m === 'object') return m.missing
  if (Number.isNaN(m)) return fallback
  return null
}

/**
 * Judges `value` against `bound`. Missing (null, undefined, NaN, `{ missing }`) → not met, with the
 * reason; an infinite value (a ratio over an anchor of 0) → not met; `dirty` (e.g. "12 answers
 * were not 2xx") → not met whatever the value.
 */
export function judge (value: Measurement, bound: Bound, options: { missing?: string, dirty?: string | null } = {}): Judged {
  const why = missingReason(value, options.missing ?? 'not measured')
  if (why != null) return { value: null, met: false, reason: why }
  const v = value as number
  if (!Number.isFinite(v)) return { value: null, met: false, reason: options.missing ?? 'not finite (an anchor of 0?)' }
  const within = bound.atLeast != null ? v >= bound.atLeast : v < (bound.below as number)
  if (options.dirty != null && options.dirty !== '') return { value: v, met: false, reason: options.dirty }
  return within ? { value: v, met: true } : { value: v, met: false, reason: bound.atLeast != null ? `below ${bound.atLeast}` : `not below ${bound.below as number}` }
}

/**
 * `numerator / anchor`, or why it cannot be computed: a missing value on either side, or an
 * anchor that is not a positive number (a skipped run reports 0, and x / 0 is no comparison).
 */
export function ratioOf (numerator: Measurement, anchor: Measurement, names: { numerator?: string, anchor: string }): number | { missing: string } {
  const n = missingReason(numerator, `${names.numerator ?? 'the measurement'} not measured`)
  if (n != null) return { missing: n }
  const a = missingReason(anchor, `anchor ${names.anchor} not measured`)
  if (a != null) return { missing: a.startsWith('anchor ') ? a : `anchor ${names.anchor}: ${a}` }
  if (!((anchor as number) > 0) || !Number.isFinite(anchor as number)) return { missing: `anchor ${names.anchor} measured ${String(anchor)}` }
  return (numerator as number) / (anchor as number)
}

/** Rounds a measurement, keeping a missing one as it is. */
export function roundMeasurement (m: number | { missing: string }, digits: number): number | { missing: string } {
  if (typeof m === 'object') return m
  const f = 10 ** digits
  return Math.round(m * f) / f
}

/** True when every goal is met (and there is at least one). */
export function allMet (goals: Iterable<{ met: boolean }>): boolean {
  let any = false
  for (const g of goals) {
    if (g.met !== true) return false
    any = true
  }
  return any
}

/** `name: reason` of every goal not met (entries that are not goals, such as `met`, are skipped). */
export function unmetReasons (goals: object): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, g] of Object.entries(goals)) {
    if (g == null || typeof g !== 'object' || typeof (g as { met?: unknown }).met !== 'boolean') continue
    const goal = g as { met: boolean, reason?: string }
    if (!goal.met) out[name] = goal.reason ?? 'not met'
  }
  return out
}

/** The reasons of `unmetReasons` on one line: "a: why; b: why". */
export function reasonLine (goals: object): string {
  return Object.entries(unmetReasons(goals)).map(([k, v]) => `${k}: ${v}`).join('; ')
}

/** One section's goal for the summary of run.ts. */
export interface SectionGoal {
  /** The section's verdict; undefined when it has none (it did not run, or failed). */
  met: boolean | undefined
  /** The section was not asked for (BENCH_ONLY, BENCH_GATEWAY=0, ...). */
  notRun: boolean
  reason?: string
}

/**
 * The summary of every section's goal: `goals` says true only for a goal measured and met; a
 * section not run or failed is false, and `goalsNotMet` says why for every false one.
 */
export function summaryGoals (sections: Record<string, SectionGoal>): { goals: Record<string, boolean>, goalsNotMet: Record<string, string> } {
  const goals: Record<string, boolean> = {}
  const goalsNotMet: Record<string, string> = {}
  for (const [name, s] of Object.entries(sections)) {
    goals[name] = s.met === true
    if (s.met === true) continue
    goalsNotMet[name] = s.met === false
      ? (s.reason != null && s.reason !== '' ? s.reason : 'not met')
      : s.notRun ? 'not measured: section not run' : 'not measured: section failed'
  }
  return { goals, goalsNotMet }
}
