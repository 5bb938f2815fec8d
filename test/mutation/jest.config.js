// The Jest config of the mutation run (npm run mutate): the project's config with the test files
// chosen per mutated folder by test/mutation/run.js (MUTATION_TESTS, comma-separated paths under
// test/). testMatch replaces the base config's testRegex, which cannot be combined with it.
const path = require('node:path');
const base = require('../../jest.config.js');

const tests = (process.env.MUTATION_TESTS ?? '').split(',').filter(Boolean);
if (tests.length === 0) throw new Error('MUTATION_TESTS is empty: run the mutation tests with npm run mutate');

const { testRegex: _unused, ...rest } = base;
module.exports = {
  ...rest,
  rootDir: path.join(__dirname, '../..'),
  testMatch: tests.map((t) => `<rootDir>/test/${t}`),
  // Stryker runs several test runners side by side itself: each runs its tests in one process.
  maxWorkers: 1,
};
