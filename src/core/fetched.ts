/**
 * The blockstore option that marks a write as a block fetched from the network on its own (a
 * bitswap fallback walk, block by block), not yet part of a DAG known to be complete.
 *
 * framehub keeps every stored closure complete: a block is visible only with everything it links
 * to. Helia stores each block it fetches as soon as it arrives, so the repository's Helia
 * blockstore puts writes carrying this option apart (`src/storage/helia-blockstore.ts`); they
 * become visible only through a checked import of the whole DAG. Helia hands a `get`'s options to
 * the `put` that stores the fetched block, which is how the option travels.
 */
export const FETCHED = Symbol.for('framehub.fetched')

/** Options for a Helia `get` whose network fetch must not become visible by itself. */
export function fetchedOptions<T extends object> (options: T): T & { [FETCHED]: true } {
  return { ...options, [FETCHED]: true }
}

export function isFetched (options: unknown): boolean {
  return typeof options === 'object' && options !== null && (options as { [FETCHED]?: unknown })[FETCHED] === true
}
