import type { CID } from 'multiformats/cid'
import { cidKey } from './cid.ts'
import { linksOf } from './block.ts'
import { pacer } from './pace.ts'
import type { Block } from './block.ts'
import type { BlockReader } from './tree/index.ts'

/**
 * Every block reachable from `root`, each once, depth-first pre-order, links in the order their
 * codec lays them out. The order is a function of the DAG alone, so the same root gives the same
 * sequence (and the same CAR bytes) on every machine. Iterative: session chains can be deep.
 */
export async function * walkClosure (reader: BlockReader, root: CID, options?: ClosureOptions): AsyncGenerator<Block> {
  const seen = options?.seen ?? new Set<string>()
  const stack: CID[] = [root]
  const pace = pacer()
  while (stack.length > 0) {
    await pace()
    const cid = stack.pop() as CID
    const key = cidKey(cid)
    if (seen.has(key)) continue
    seen.add(key)
    if (options?.held != null && await options.held(cid)) continue
    const bytes = await reader.get(cid, options)
    yield { cid, bytes }
    const links = linksOf(cid, bytes)
    for (let i = links.length - 1; i >= 0; i--) {
      const link = links[i] as CID
      if (!seen.has(cidKey(link))) stack.push(link)
    }
  }
}

export interface ClosureOptions {
  signal?: AbortSignal
  /**
   * Keys (`cidKey`) of blocks not to yield nor descend into; the walk adds every block it yields.
   * Shared between walks, it makes a second walk skip what the first one covered.
   */
  seen?: Set<string>
  /**
   * Blocks whose closure the reader of the walk already holds whole: neither yielded nor
   * descended into (a fetch of what is missing stops there).
   */
  held?: (cid: CID) => boolean | Promise<boolean>
}

/** A reader that can fetch many blocks at once (`undefined` where missing). */
export interface ManyReader {
  getMany (cids: CID[], options?: { signal?: AbortSignal }): Promise<Array<Uint8Array | undefined>>
}
