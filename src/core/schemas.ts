import type { ErrorObject } from 'ajv'
import * as generated from './schema-validators.js'

export { addFramehubFormats, schemas } from './schema-defs.ts'

/** A schema's validator: true or false, and the errors of the last call that failed. */
export interface Validator {
  (data: unknown): boolean
  errors?: ErrorObject[] | null
}

// The validators are Ajv standalone code generated from schemas/*.json by `npm run gen:types`
// (src/core/schema-validators.js): checking a document neither loads Ajv nor compiles a schema,
// which used to be a large part of a CLI command's start-up. They give the same results and the
// same errors as Ajv compiling the schemas with `ajvOptions` (test/core/schema-validators.test.ts).
export const validateFrameJson: Validator = generated.validateFrameJson
export const validateTraceStepInputJson: Validator = generated.validateTraceStepInputJson
export const validateTraceStepJson: Validator = generated.validateTraceStepJson
export const validateCommitJson: Validator = generated.validateCommitJson
export const validateConsensusCommitJson: Validator = generated.validateConsensusCommitJson
export const validateDecisionJson: Validator = generated.validateDecisionJson
export const validateSessionName: Validator = generated.validateSessionName

/** One readable line for the first schema error: where and what. */
export function describeSchemaError (errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0]
  if (e == null) return 'does not match the schema'
  const where = e.instancePath === '' ? '(root)' : e.instancePath
  if (e.keyword === 'additionalProperties') {
    return `${where}: unknown field "${String((e.params as { additionalProperty: string }).additionalProperty)}"`
  }
  return `${where}: ${e.message ?? 'is invalid'}`
}
