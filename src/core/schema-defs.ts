import type { Ajv, Options } from 'ajv'
import { CID } from 'multiformats/cid'
import bytesSchema from '../../schemas/bytes.schema.json' with { type: 'json' }
import commitSchema from '../../schemas/commit.schema.json' with { type: 'json' }
import consensusCommitSchema from '../../schemas/consensus-commit.schema.json' with { type: 'json' }
import decisionSchema from '../../schemas/decision.schema.json' with { type: 'json' }
import frameSchema from '../../schemas/frame.schema.json' with { type: 'json' }
import linkSchema from '../../schemas/link.schema.json' with { type: 'json' }
import sessionNameSchema from '../../schemas/session-name.schema.json' with { type: 'json' }
import traceStepInputSchema from '../../schemas/trace-step-input.schema.json' with { type: 'json' }
import traceStepSchema from '../../schemas/trace-step.schema.json' with { type: 'json' }

// What core validation is made of: the schemas, their formats and the Ajv options. The validators
// themselves are generated from these by scripts/gen-types.ts (src/core/schema-validators.js), so
// this module must never import the generated one.

/** Every schema in `schemas/`, keyed by `$id`: the one source for core validation and the gateway. */
export const schemas = [
  linkSchema, bytesSchema, sessionNameSchema, frameSchema, traceStepInputSchema, traceStepSchema, commitSchema,
  consensusCommitSchema, decisionSchema
] as const

/** The Ajv options core validation is generated with (the gateway's Ajv uses the same). */
export const ajvOptions = { allErrors: false, strict: true, allowUnionTypes: true } as const satisfies Options

function isCid (text: string): boolean {
  try {
    CID.parse(text)
    return true
  } catch {
    return false
  }
}

/** The formats framehub schemas use, as Ajv format definitions (the generated validators import them). */
export const formats = {
  cid: { type: 'string', validate: isCid }
} as const

/**
 * Registers what framehub schemas need on an Ajv instance: their formats, and the `tsType`
 * keyword (it only steers the generated TypeScript types, see scripts/gen-types.ts).
 */
export function addFramehubFormats (ajv: Ajv): Ajv {
  for (const [name, format] of Object.entries(formats)) ajv.addFormat(name, format)
  if (ajv.getKeyword('tsType') === false) ajv.addKeyword('tsType')
  return ajv
}
