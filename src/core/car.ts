import { CarWriter } from '@ipld/car'
import type { CID } from 'multiformats/cid'
import type { Block } from './codec.ts'

/**
 * A CAR v1 with one root, streamed as `blocks` are read (in their order). An error of `blocks`
 * ends the stream with that error, after what was written so far.
 */
export async function * carStream (root: CID, blocks: AsyncIterable<Block>): AsyncGenerator<Uint8Array> {
  const { writer, out } = CarWriter.create([root])
  const feeding = (async () => {
    try {
      for await (const block of blocks) await writer.put(block)
    } finally {
      await writer.close()
    }
  })()
  // Keep the rejection for the end: the stream is read to its close either way.
  feeding.catch(() => {})
  yield * out
  await feeding
}
