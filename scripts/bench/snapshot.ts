/**
 * Snapshot export and import of the N-frame commit: MB/s and RSS (sampled every 50 ms, with the
 * baseline taken just before the operation). Run in its own process by run.ts so the baseline is
 * not inflated by the data the other benchmarks hold; prints one JSON object on stdout.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { CID } from 'multiformats/cid'
import { createNode } from '../../src/node.ts'
import { collectGarbage, isMain, log, mb, now, perSecond, round, withRss } from './common.ts'
import type { MemoryReport } from './common.ts'

export interface SnapshotReport {
  root: string
  blocks: number
  carMB: number
  export: { ms: number, MBps: number, blocksPerSecond: number, memory: MemoryReport }
  import: { ms: number, MBps: number, blocksPerSecond: number, memory: MemoryReport }
  /** Growth of RSS over the CAR size: well below 1 means streamed, not buffered whole. */
  peakGrowthOverCarSize: { export: number, import: number }
}

export async function benchSnapshot (repoDir: string, root: CID, workDir: string): Promise<SnapshotReport> {
  const file = join(workDir, 'snapshot.car')

  const source = await createNode({ repo: repoDir })
  let exported
  try {
    await collectGarbage()
    log(`snapshot: exporting ${root}`)
    const t0 = now()
    const run = await withRss(async () => {
      const { car, stats } = source.snapshots.exportCar(root)
      await pipeline(car, createWriteStream(file))
      return stats
    })
    exported = { ...run, ms: now() - t0 }
  } finally {
    await source.close()
  }
  const carBytes = (await stat(file)).size
  if (carBytes !== exported.result.bytes) throw new Error(`CAR file has ${carBytes} bytes, export counted ${exported.result.bytes}`)
  log(`snapshot: export ${mb(carBytes)} MB, ${exported.result.blocks} blocks in ${round(exported.ms)} ms`)

  const target = await createNode({ repo: join(workDir, 'import-repo'), create: true })
  let imported
  try {
    await collectGarbage()
    log('snapshot: importing into a fresh repository')
    const t0 = now()
    const run = await withRss(async () => await target.snapshots.importCar(createReadStream(file, { highWaterMark: 1 << 20 })))
    imported = { ...run, ms: now() - t0 }
  } finally {
    await target.close()
  }
  if (!imported.result.root.equals(root)) throw new Error(`import returned root ${imported.result.root}, expected ${root}`)
  if (imported.result.blocks !== exported.result.blocks) throw new Error(`import saw ${imported.result.blocks} blocks, export wrote ${exported.result.blocks}`)
  log(`snapshot: import in ${round(imported.ms)} ms`)

  const MBps = (bytes: number, ms: number): number => round(bytes / 1e6 / (ms / 1000), 1)
  return {
    root: root.toString(),
    blocks: exported.result.blocks,
    carMB: mb(carBytes),
    export: { ms: round(exported.ms), MBps: MBps(carBytes, exported.ms), blocksPerSecond: perSecond(exported.result.blocks, exported.ms), memory: exported.memory },
    import: { ms: round(imported.ms), MBps: MBps(carBytes, imported.ms), blocksPerSecond: perSecond(imported.result.blocks, imported.ms), memory: imported.memory },
    peakGrowthOverCarSize: {
      export: round(exported.memory.growthMB / Math.max(0.01, mb(carBytes)), 3),
      import: round(imported.memory.growthMB / Math.max(0.01, mb(carBytes)), 3)
    }
  }
}

if (isMain(import.meta.url)) {
  const [repoDir, root, workDir] = process.argv.slice(2)
  if (repoDir == null || root == null || workDir == null) throw new Error('usage: snapshot.ts REPO ROOT_CID WORK_DIR')
  const report = await benchSnapshot(repoDir, CID.parse(root), workDir)
  process.stdout.write(JSON.stringify(report) + '\n')
}
