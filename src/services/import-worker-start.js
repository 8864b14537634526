// The import worker's entry point, in plain JavaScript: it switches the main thread's compile cache
// on before any TypeScript file loads, so that a worker loads its modules type-stripped and
// compiled from the cache and never starts Node's type stripper (which took about half of a
// worker's start). In the built package (dist/) the specifier below reads `./import-worker.js`.
import { enableCompileCache } from 'node:module'
import { workerData } from 'node:worker_threads'

const cache = workerData?.compileCache
if (typeof cache === 'string') {
  try {
    enableCompileCache(cache)
  } catch {}
}
await import('./import-worker.ts')
