import { CID } from 'multiformats/cid'
import type { Problem, VerifyService } from '../services/verify.ts'
import type { ApiClient } from './api.ts'

/** VerifyService over the daemon's `/api/v1/verify`. */
export function remoteVerifier (api: ApiClient): VerifyService {
  return {
    verify: async (spec, options) => {
      const r = await api.json<{ root: string, ok: boolean, blocks: number, problems: Problem[] }>('/verify', { query: { ref: spec }, signal: options?.signal })
      return { root: CID.parse(r.root), ok: r.ok, blocks: r.blocks, problems: r.problems }
    }
  }
}
