// Jest preset of nestjs-snowplow: `preset: 'nestjs-snowplow'` in a Jest config makes the tests of a
// Nest 12 app run on Node 20. Nest 12 (and some of its dependencies) ship ES modules only, which
// Jest's CommonJS runtime cannot load ("Must use import to load ES Module"): this transforms
// TypeScript and those packages to CommonJS with @swc/jest (install it: npm i -D @swc/jest @swc/core).
// A config that sets its own `transform` or `transformIgnorePatterns` replaces the preset's.

/** Packages under node_modules that ship ES modules only and are transformed. */
const esmOnlyPackages = [
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
  // An OpenID provider for tests of OIDC token sources (nestjs-snowplow's own suite uses it).
  'oidc-provider',
];

module.exports = {
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
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
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnlyPackages.join('|')})/)`],
};
