import type { CID } from 'multiformats/cid'
import type { RepoDb } from '../level-db.ts'
import { indexKeys, indexLimits, metaOp } from './layout.ts'
import type { Op } from './layout.ts'

/** Writes ops in chunks; the first chunk of a multi-chunk update deletes the meta first. */
export class ChunkedWriter {
  readonly #db: RepoDb
  readonly #branch: string
  #ops: Op[] = []
  #started = false
  written = 0

  constructor (db: RepoDb, branch: string, started: boolean) {
    this.#db = db
    this.#branch = branch
    this.#started = started
  }

  async add (ops: Op[]): Promise<void> {
    for (const op of ops) this.#ops.push(op)
    if (this.#ops.length >= indexLimits.chunkOps) await this.#flush()
  }

  async #flush (): Promise<void> {
    if (!this.#started) {
      // From here on the keys are between two trees: no meta until they are at the new one.
      this.#ops.unshift({ type: 'del', key: indexKeys.meta(this.#branch) })
      this.#started = true
    }
    this.written += this.#ops.length
    await this.#db.index.batch(this.#ops)
    this.#ops = []
  }

  /** Writes what is left together with the new meta (atomically, if nothing was flushed before). */
  async finish (tree: CID): Promise<void> {
    this.#ops.push(metaOp(this.#branch, tree))
    this.written += this.#ops.length
    await this.#db.index.batch(this.#ops)
    this.#ops = []
  }
}
