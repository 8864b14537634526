import { createRequire } from 'node:module'
import type { Ajv, ErrorObject } from 'ajv'
import { CID } from 'multiformats/cid'
import bytesSchema from '../../schemas/bytes.schema.json' with { type: 'json' }
import commitSchema from '../../schemas/commit.schema.json' with { type: 'json' }
import frameSchema from '../../schemas/frame.schema.json' with { type: 'json' }
import linkSchema from '../../schemas/link.schema.json' with { type: 'json' }
import sessionNameSchema from '../../schemas/session-name.schema.json' with { type: 'json' }
import traceStepInputSchema from '../../schemas/trace-step-input.schema.json' with { type: 'json' }
import traceStepSchema from '../../schemas/trace-step.schema.json' with { type: 'json' }

/** Every schema in `schemas/`, keyed by `$id`: the one source for core validation and the gateway. */
export const schemas = [
  linkSchema, bytesSchema, sessionNameSchema, frameSchema, traceStepInputSchema, traceStepSchema, commitSchema
] as const

function isCid (text: string): boolean {
  try {
    CID.parse(text)
    return true
  } catch {
    return false
  }
}

/**
 * Registers what framehub schemas need on an Ajv instance: the "cid" format, and the `tsType`
 * keyword (it only steers the generated TypeScript types, see scripts/gen-types.ts).
 */
export function addFramehubFormats (ajv: Ajv): Ajv {
  ajv.addFormat('cid', { type: 'string', validate: isCid })
  if (ajv.getKeyword('tsType') === false) ajv.addKeyword('tsType')
  return ajv
}

/** A schema's validator: true or false, and the errors of the last call that failed. */
export interface Validator {
  (data: unknown): boolean
  errors?: ErrorObject[] | null
}

// Ajv and the validators are made on first use: loading Ajv and compiling every schema cost a
// large part of each CLI command's start-up, and most commands check one schema or none.
let ajv: Ajv | undefined
function instance (): Ajv {
  if (ajv == null) {
    const { Ajv: AjvClass } = createRequire(import.meta.url)('ajv') as typeof import('ajv')
    ajv = addFramehubFormats(new AjvClass({ allErrors: false, strict: true, allowUnionTypes: true }))
    for (const schema of schemas) ajv.addSchema(schema)
  }
  return ajv
}

function compiled (id: string): Validator {
  let fn: ((data: unknown) => boolean) & { errors?: ErrorObject[] | null } | undefined
  const validate: Validator = (data) => {
    if (fn == null) {
      fn = instance().getSchema(id)
      if (fn == null) throw new Error(`schema ${id} is not registered`)
    }
    const ok = fn(data)
    validate.errors = fn.errors
    return ok
  }
  return validate
}

export const validateFrameJson = compiled('frame.schema.json')
export const validateTraceStepInputJson = compiled('trace-step-input.schema.json')
export const validateTraceStepJson = compiled('trace-step.schema.json')
export const validateCommitJson = compiled('commit.schema.json')
export const validateSessionName = compiled('session-name.schema.json')

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
