// Jest runs in CommonJS mode. Nest 12 and some of its helpers ship ESM only: the package's own
// Jest preset (jest-preset.js, what users get with `preset: 'nestjs-snowplow'`) has swc down-level
// them to CommonJS, so this suite runs on the very preset users are told to use.
const preset = require('./jest-preset');

/** @type {import('jest').Config} */
module.exports = {
  ...preset,
  roots: ['<rootDir>/test'],
  testRegex: '.*\\.spec\\.ts$',
  // The sample app imports the library by its package name, as a user would; tests run it
  // against the TypeScript sources (tsconfig.json has the same mapping in "paths").
  moduleNameMapper: {
    '^nestjs-snowplow$': '<rootDir>/lib/index.ts',
    '^nestjs-snowplow/testing$': '<rootDir>/lib/testing/index.ts',
    '^nestjs-snowplow/health$': '<rootDir>/lib/health/index.ts',
    '^nestjs-snowplow/core$': '<rootDir>/lib/core/index.ts',
  },
  setupFilesAfterEnv: ['<rootDir>/test/support/no-unhandled-errors.ts'],
  testTimeout: 60000,
  // Jest's default on a 2-core machine is one worker, which runs the suites one after another.
  // Most suites wait on sockets, child processes and npm rather than compute, so two run side by
  // side (the tests wait on conditions, not on fixed windows, so they hold on a loaded machine).
  maxWorkers: 2,
};
