'use strict';
// Loads the benchmark's own TypeScript files through swc (@swc-node/register) and nothing else:
// dist/ and node_modules load exactly as an application would load them, so what is measured
// is the built library, not a re-transpiled copy. Source maps stay inline, which keeps
// source-map-support from hooking Error.prepareStackTrace in the measured processes.
const path = require('node:path');

if (!process.env.SWC_NODE_SOURCE_MAP_MODE) process.env.SWC_NODE_SOURCE_MAP_MODE = 'inline';
if (!process.env.SWC_NODE_PROJECT) process.env.SWC_NODE_PROJECT = path.join(__dirname, 'tsconfig.json');

const { register } = require('@swc-node/register/register');

const benchDir = __dirname + path.sep;
register({}, { matcher: (file) => file.startsWith(benchDir) && !file.endsWith('.js') });
