// ESLint flat config: typescript-eslint's recommended rules over the library, tests, bench and
// the sample app. Formatting is Prettier's job (npm run format), not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'coverage/',
      'docs/',
      'sample-app/dist/',
      'bench/.build/',
      'test/fixtures/iglu/',
      'iglu/',
      // Mutation testing: Stryker's sandbox copy of the project, and its reports.
      '.stryker-tmp/',
      'reports/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      // Unused arguments named with a leading underscore document a position (callbacks, overloads).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Nest's decorators and user-facing generics default to `any`, as Nest's own types do.
      '@typescript-eslint/no-explicit-any': 'off',
      'max-len': [
        'error',
        { code: 120, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true },
      ],
    },
  },
  {
    // Benchmarks and fixtures load packages late or by resolved path on purpose.
    files: ['bench/**/*.ts', 'test/**/*.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The event viewer's page script runs in the browser as a classic script.
    files: ['viewer/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'history',
          'navigator',
          'fetch',
          'atob',
          'TextDecoder',
          'EventSource',
          'URLSearchParams',
          'requestAnimationFrame',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
