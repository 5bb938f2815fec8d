// Jest runs in CommonJS mode. Nest 12 and some of its helpers ship ESM only, so swc
// down-levels them to CommonJS too: transformIgnorePatterns leaves only the packages
// listed here to be transformed inside node_modules.
const esmOnly = [
  '@nestjs',
  'axios',
  'file-type',
  'strtok3',
  'token-types',
  'uint8array-extras',
  '@borewit',
  'proxy-from-env',
  'load-esm',
  'openid-client',
  'oauth4webapi',
  'jose',
  'oidc-provider',
];

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testRegex: '.*\\.spec\\.ts$',
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  // The sample app imports the library by its package name, as a user would; tests run it
  // against the TypeScript sources (tsconfig.json has the same mapping in "paths").
  moduleNameMapper: {
    '^nestjs-snowplow$': '<rootDir>/lib/index.ts',
    '^nestjs-snowplow/testing$': '<rootDir>/lib/testing/index.ts',
    '^nestjs-snowplow/health$': '<rootDir>/lib/health/index.ts',
    '^nestjs-snowplow/core$': '<rootDir>/lib/core/index.ts',
  },
  transform: {
    '^.+\\.(t|j|mj|cj)s$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly.join('|')})/)`],
  setupFilesAfterEnv: ['<rootDir>/test/support/no-unhandled-errors.ts'],
  testTimeout: 60000,
  // Jest's default on a 2-core machine is one worker, which runs the suites one after another.
  // Most suites wait on sockets, child processes and npm rather than compute, so two run side by
  // side (the tests wait on conditions, not on fixed windows, so they hold on a loaded machine).
  maxWorkers: 2,
};
