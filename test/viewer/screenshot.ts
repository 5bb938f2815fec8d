/// <reference lib="dom" />
// `npm run docs:screenshot`: renders the event viewer with the sample events in Debian's Chromium
// and saves docs/viewer.png (shown in the README). Not a test; run it after changing the page.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalCollector } from '../../lib/testing';
import { launchChromium } from './support/chromium';
import { sendSampleEvents } from './support/sample-events';

const OUTPUT = join(__dirname, '..', '..', 'docs', 'viewer.png');

async function main(): Promise<void> {
  const collector = await startLocalCollector({ port: 0 });
  const browser = await launchChromium();
  try {
    await sendSampleEvents(collector.endpoint);
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 1400, height: 720 });
    await page.goto(collector.viewerUrl);
    await page.waitForFunction(() => document.querySelectorAll('#list .row').length === 9, null, { timeout: 20_000 });
    // The detail of the billing event that carries a request's correlation id.
    await page.click('#list .row:has-text("code_suggestions")');
    await page.locator('#detail .entity.billing').waitFor();
    mkdirSync(join(OUTPUT, '..'), { recursive: true });
    await page.screenshot({ path: OUTPUT });
    process.stdout.write(`wrote ${OUTPUT}\n`);
  } finally {
    await browser.close();
    await collector.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
