// Preloaded (NODE_OPTIONS=--import) into a CLI run by test/cli/errors.test.ts: looking up the home
// directory fails with one of Node's own errors (RangeError, code ERR_OUT_OF_RANGE), as a bug in
// framehub would make it fail, so the test sees how the CLI reports an error that is not framehub's.
import os from 'node:os'
import { syncBuiltinESMExports } from 'node:module'

os.homedir = (): string => Buffer.alloc(-1).toString()
syncBuiltinESMExports()
delete process.env.FRAMEHUB_REPO
