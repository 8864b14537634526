import { CID } from 'multiformats/cid'
import type { VerifyProgress, VerifyService } from '../services/verify.ts'
import type * as Wire from '../core/api-types.ts'
import type { ApiClient } from './api.ts'
import { progressJson } from './progress.ts'

/** VerifyService over the daemon's `/api/v1/verify`. */
export function remoteVerifier (api: ApiClient): VerifyService {
  return {
    verify: async (spec, options) => {
      // Followed as it goes: a big repository takes longer than the client waits on a silent daemon.
      const r = await progressJson<Wire.VerifyReport, VerifyProgress>(api, '/verify', { query: { ref: spec }, signal: options?.signal },
        (blocks) => { options?.onProgress?.({ type: 'verify:progress', detail: blocks }) })
      return { root: CID.parse(r.root), ok: r.ok, blocks: r.blocks, problems: r.problems }
    }
  }
}
