import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULT_LISTEN, networkConfig } from '../../src/network/config.ts'

describe('network config', () => {
  it('defaults to loopback, no bootstrap, not public: nothing outside this machine unless asked', () => {
    const config = networkConfig()
    assert.deepEqual(config, { listen: DEFAULT_LISTEN, bootstrap: [], network: 'default', public: false })
    assert.ok(config.listen.every(a => a.startsWith('/ip4/127.0.0.1/')))
  })

  it('refuses bad addresses and names with a usage error naming them', () => {
    for (const input of [
      { listen: ['/not/a/multiaddr'] },
      { bootstrap: ['nonsense'] },
      { bootstrap: ['/ip4/127.0.0.1/tcp/4001'] }, // no /p2p/ peer id
      { network: 'Has Spaces' },
      { network: '' },
      { network: 'x'.repeat(65) }
    ]) {
      assert.throws(() => networkConfig(input), { code: 'ERR_USAGE' }, JSON.stringify(input))
    }
  })
})
