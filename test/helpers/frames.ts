import * as dagCbor from '@ipld/dag-cbor'

/** A frame whose DAG-CBOR block is exactly `size` bytes (its body padded). */
export function frameOfSize (id: string, size: number): Record<string, unknown> {
  let pad = size - 100
  for (;;) {
    const json = { id, kind: 'fact', body: 'x'.repeat(pad) }
    const bytes = dagCbor.encode(json).byteLength
    if (bytes === size) return json
    pad += size - bytes
  }
}

/** JSON text of `levels` nested arrays. */
export const nested = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels)
