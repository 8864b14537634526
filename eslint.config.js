// framehub's linter (`npm run lint`, part of `npm test`): neostandard, standard style with its
// TypeScript rules, and these choices:
// - `void promise` as a statement is how framehub starts work it does not wait for (timers,
//   event handlers); everywhere else `no-void` holds.
// - `no-undef` is TypeScript's job in .ts files (typescript-eslint's advice).
// - ids, names and headers are checked against control characters on purpose (no-control-regex).
// - a name starting with `_` is deliberately unused (a destructured field left out, a parameter).
// - in tests, loops wait on flags that callbacks set (no-unmodified-loop-condition cannot see it).
import neostandard from 'neostandard'
import globals from 'globals'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'src/core/schema-validators.js', 'src/core/schema-types.ts', 'src/core/api-types.ts'] }),
  {
    rules: {
      'no-void': ['error', { allowAsStatement: true }],
      'no-control-regex': 'off',
      // A logger or handle assigned once but read by closures made before (they check it).
      'prefer-const': ['error', { destructuring: 'all', ignoreReadBeforeAssign: true }]
    }
  },
  { files: ['**/*.ts'], rules: { '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none' }] } },
  { files: ['test/**'], rules: { 'no-unmodified-loop-condition': 'off' } },
  { files: ['**/*.ts'], rules: { 'no-undef': 'off' } },
  { files: ['ui/**/*.js'], languageOptions: { globals: globals.browser } }
]
