// Lint only what the type checker cannot: promises that are neither awaited, returned nor caught
// (an unhandled rejection would stop the daemon and every container's log copier with it),
// promises passed where a callback's result is ignored, and `any` (written, or leaking in from an
// untyped value: the no-unsafe-* rules, on product code; tests poke at parsed JSON freely).
// Nothing else, to keep it fast. The layer rules are dependency-cruiser's (.dependency-cruiser.cjs).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'runtime/gen/**', 'daemon/api-types/gen/**', 'node_modules/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'off' },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test collects the promises of test() and describe() itself.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unsafe-function-type': 'error',
      '@typescript-eslint/no-unsafe-declaration-merging': 'error',
    },
  },
  {
    files: ['{api,daemon,runtime,network,store,registry,lib}/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'error',
      '@typescript-eslint/no-unsafe-assignment': 'error',
      '@typescript-eslint/no-unsafe-call': 'error',
      '@typescript-eslint/no-unsafe-member-access': 'error',
      '@typescript-eslint/no-unsafe-return': 'error',
    },
  },
);
