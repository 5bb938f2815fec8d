// StrykerJS over the core (npm run mutate; not part of CI). test/mutation/run.js runs one
// Stryker pass per folder, each with the tests that folder needs (MUTATE and MUTATION_TESTS).
const mutate = (process.env.MUTATE ?? 'lib/{tracker,storage,emitter,auth}/**/*.ts')
  .split(',')
  // A folder's index.ts only re-exports: left out.
  .flatMap((glob) => (glob.endsWith('/**/*.ts') ? [glob, `!${glob.replace(/\*\*\/\*\.ts$/, '**/index.ts')}`] : [glob]));

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
module.exports = {
  packageManager: 'npm',
  testRunner: 'jest',
  jest: { projectType: 'custom', configFile: 'test/mutation/jest.config.js', enableFindRelatedTests: false },
  checkers: process.env.MUTATION_TYPECHECK === '0' ? [] : ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate,
  // Only the tests that cover a mutant run for it.
  coverageAnalysis: 'perTest',
  // Static mutants (module-level constants) would run every test each: left out, and listed as ignored.
  ignoreStatic: true,
  concurrency: Number(process.env.MUTATION_CONCURRENCY ?? 3),
  // A mutant that makes a test wait for its deadline (a lost wake-up, a lease never returned) is
  // stopped this long after the tests that cover it would have ended, and counted as detected.
  timeoutMS: 5_000,
  timeoutFactor: 1.5,
  tempDirName: '.stryker-tmp',
  reporters: ['clear-text', 'progress-append-only', 'json'],
  jsonReporter: { fileName: `reports/mutation/${process.env.MUTATION_NAME ?? 'all'}.json` },
  thresholds: { high: 90, low: 85, break: null },
  cleanTempDir: 'always',
  // A second run re-tests only the mutants whose code or covering tests changed.
  incremental: true,
  incrementalFile: `reports/mutation/${process.env.MUTATION_NAME ?? 'all'}.incremental.json`,
};
