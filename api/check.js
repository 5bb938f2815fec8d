'use strict';
// Runs API Extractor over each entry point (nestjs-snowplow, /core, /testing, /health) against
// the built typings in dist/. Without --local (CI, `npm run api:check`) it fails when the public
// API differs from the committed report in api/*.api.md, or when a public symbol lacks TSDoc;
// with --local (`npm run api:update`) it rewrites the reports so the change shows in the diff.
const { join } = require('node:path');
const { Extractor, ExtractorConfig } = require('@microsoft/api-extractor');

const local = process.argv.includes('--local');
let failed = false;
for (const entry of ['nestjs-snowplow', 'core', 'testing', 'health']) {
  const config = ExtractorConfig.loadFileAndPrepare(join(__dirname, `${entry}.api-extractor.json`));
  const result = Extractor.invoke(config, { localBuild: local, showVerboseMessages: false });
  if (!result.succeeded) {
    failed = true;
    const reason = result.apiReportChanged
      ? `the public API changed: run \`npm run api:update\` and commit api/${entry}.api.md`
      : `${result.errorCount} error(s), ${result.warningCount} warning(s)`;
    process.stderr.write(`api:check ${entry}: ${reason}\n`);
  }
}
process.exitCode = failed ? 1 : 0;
