import { UsageError } from '../errors.ts'

/** The largest weight a member's vote may have. */
export const MAX_MEMBER_WEIGHT = 1_000_000

/** A member's weight as given by a user: a number from 0 (listed, no vote) to MAX_MEMBER_WEIGHT. */
export function checkMemberWeight (weight: unknown, what = `a member's weight (${String(weight)})`): number {
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0 || weight > MAX_MEMBER_WEIGHT) {
    throw new UsageError(`${what} must be a number from 0 to ${MAX_MEMBER_WEIGHT}`)
  }
  return weight
}
