import { setImmediate } from 'node:timers/promises'

/**
 * Lets the event loop run between pieces of a long walk. Block reads are synchronous (see
 * `createBlockStore`), so a walk of 100k blocks would otherwise hold the loop for a second or
 * more, and HTTP requests, libp2p streams and timers would wait. Call the returned function once
 * per block: every `every` calls it waits for one turn of the event loop (about 1 ms of walking
 * at a time with the default).
 */
export function pacer (every = 256): () => Promise<void> | undefined {
  let n = 0
  return () => (++n % every === 0 ? setImmediate() : undefined)
}
