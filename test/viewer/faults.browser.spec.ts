/// <reference lib="dom" />
// The viewer's fault control and request marks in Debian's Chromium: a plan set from the page
// faults a real core Emitter's requests, the page lists them live with their fault, marks the
// events a faulted request still stored, clears the plan, and shows a refused plan's field.
import type { Page } from 'playwright-core';
import { Emitter, Tracker } from '../../lib/core';
import { LocalCollector, startLocalCollector } from '../../lib/testing';
import { quietLogger } from '../support/emitter-harness';
import { Browser, launchChromium } from './support/chromium';

jest.setTimeout(120_000);

const UI = 20_000;

let browser: Browser;
let collector: LocalCollector;
let emitter: Emitter | undefined;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

beforeEach(async () => {
  collector = await startLocalCollector({ port: 0 });
  pageErrors.length = 0;
  page = await browser.context.newPage();
  page.on('pageerror', (error) => pageErrors.push(String(error)));
});
afterEach(async () => {
  await emitter?.stop();
  emitter = undefined;
  await page?.close();
  await collector?.close();
  expect(pageErrors).toEqual([]);
});

async function openViewer(): Promise<void> {
  await page.goto(collector.viewerUrl);
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live', null, {
    timeout: UI,
  });
  await page.locator('#faults > summary').waitFor({ timeout: UI });
}

function startTracker(): Tracker {
  emitter = new Emitter({
    collectorUrl: collector.endpoint,
    logger: quietLogger,
    backoff: { baseMs: 20, factor: 1, capMs: 20 },
    maxConcurrentRequests: 1,
  });
  emitter.start();
  return new Tracker({ appId: 'faulty', emitter });
}

/** The requests table, top (newest) first: [answer, fault] per row. */
function requestRows(): Promise<string[][]> {
  return page.$$eval('#requests-body tr', (rows) =>
    rows.map((row) => [...row.querySelectorAll('td.answer, td.fault')].map((cell) => cell.textContent?.trim() ?? '')),
  );
}

async function waitForText(selector: string, expected: string): Promise<void> {
  await page.waitForFunction(
    ({ selector, expected }) => document.querySelector(selector)?.textContent?.includes(expected) ?? false,
    { selector, expected },
    { timeout: UI },
  );
}

/** The labels of the event rows, newest first, with whether each carries the `faulted` mark. */
function eventRows(): Promise<Array<[string, boolean]>> {
  return page.$$eval('#list .row', (rows) =>
    rows
      .sort((a, b) => parseFloat((a as HTMLElement).style.top) - parseFloat((b as HTMLElement).style.top))
      .map((row): [string, boolean] => [
        row.querySelector('.label')?.textContent ?? '',
        row.querySelector('.badge.faulted') !== null,
      ]),
  );
}

describe('the fault control and the request marks in Chromium', () => {
  it('sets a plan from the page, lists the faulted requests live, marks stored-but-faulted events, clears it', async () => {
    await openViewer();
    expect(await page.isVisible('#step-form')).toBe(false);
    // Keyboard only: the panel opens from its summary, the form is filled and submitted with keys.
    await page.focus('#faults > summary');
    await page.keyboard.press('Enter');
    await page.locator('#step-form').waitFor({ state: 'visible', timeout: UI });
    await page.selectOption('#step-action', 'status');
    await page.fill('#step-status', '503');
    await page.fill('#step-retry-after', '1');
    await page.fill('#step-count', '2');
    await page.focus('#step-set');
    await page.keyboard.press('Enter');
    await waitForText('#plan-steps', 'status 503, Retry-After 1 · count 2 — took 0 requests');
    expect(collector.faults()).toEqual({ plan: { steps: [{ status: 503, retryAfter: 1, count: 2 }] }, applied: [0] });
    expect(await page.textContent('#faults-summary-plan')).toBe('fault plan: 1 step');

    // "My app sent 3 requests, the collector answered 503 twice, then 200."
    const tracker = startTracker();
    tracker.trackEvent('paid', { cents: 120 });
    await collector.waitForEvents(1, 20_000);
    await waitForText('#plan-steps', 'took 2 requests');
    await page.waitForFunction(() => document.querySelectorAll('#requests-body tr').length === 3, null, {
      timeout: UI,
    });
    expect(await requestRows()).toEqual([
      ['200 stored', ''],
      ['503', 'faulted plan step 0: status'],
      ['503', 'faulted plan step 0: status'],
    ]);
    expect(await page.$$eval('#requests-body tr.faulted', (rows) => rows.length)).toBe(2);
    await waitForText('#faults-summary-requests', '3 tracker requests, 2 faulted');
    await page.locator('#list .row').first().waitFor({ timeout: UI });
    expect(await eventRows()).toEqual([['paid', false]]);

    // A delay is a fault that still stores the events: they carry the mark. This plan as JSON.
    await page.fill('#plan-json', JSON.stringify({ steps: [{ delayMs: 30, count: 1 }] }));
    await page.click('#plan-set');
    await waitForText('#plan-steps', 'delay 30 ms · count 1 — took 0 requests');
    tracker.trackEvent('slow');
    await page.waitForFunction(() => document.querySelectorAll('#list .row').length === 2, null, { timeout: UI });
    expect(await eventRows()).toEqual([
      ['slow', true],
      ['paid', false],
    ]);
    await page.click('#list .row:has-text("slow")');
    await waitForText('#detail', 'Request faultplan step 0: delay (answered, events stored)');

    // Cleared from the page: the next request gets the normal answer, its event no mark.
    await page.click('#plan-clear');
    await page.locator('#plan-none').waitFor({ state: 'visible', timeout: UI });
    expect(collector.faults()).toEqual({ plan: null, applied: [] });
    expect(await page.textContent('#faults-summary-plan')).toBe('no fault plan');
    tracker.trackEvent('after');
    await page.waitForFunction(() => document.querySelectorAll('#list .row').length === 3, null, { timeout: UI });
    expect((await eventRows())[0]).toEqual(['after', false]);
    await page.waitForFunction(() => document.querySelectorAll('#requests-body tr').length === 5, null, {
      timeout: UI,
    });
    expect((await requestRows()).slice(0, 2)).toEqual([
      ['200 stored', ''],
      ['200 stored', 'faulted plan step 0: delay'],
    ]);
    await page.check('#requests-faulted-only');
    await page.waitForFunction(() => document.querySelectorAll('#requests-body tr').length === 3, null, {
      timeout: UI,
    });
  });

  it('lists a refused request that stores nothing (a reset), and empties the list on reset', async () => {
    collector.setFaults({ steps: [{ reset: true, count: 1 }] });
    await openViewer();
    // A plan in force when the page opens: the panel opens by itself and shows it.
    expect(await page.getAttribute('#faults', 'open')).toBe('');
    const tracker = startTracker();
    tracker.trackEvent('retried');
    await collector.waitForEvents(1, 20_000);
    await page.waitForFunction(() => document.querySelectorAll('#requests-body tr').length === 2, null, {
      timeout: UI,
    });
    expect(await requestRows()).toEqual([
      ['200 stored', ''],
      ['connection reset', 'faulted plan step 0: reset'],
    ]);
    await page.click('#reset');
    await page.waitForFunction(() => document.querySelectorAll('#requests-body tr').length === 0, null, {
      timeout: UI,
    });
    await waitForText('#faults-summary-requests', '0 tracker requests, 0 faulted');
  });

  it('shows why the collector refused a plan, naming the field, and keeps the plan in force', async () => {
    collector.setFaults({ steps: [{ status: 500, count: 1 }] });
    await openViewer();
    await page.fill('#step-status', '700');
    await page.click('#step-set');
    await waitForText('#plan-error', 'Plan refused (400) steps[0].status:');
    expect(await page.textContent('#plan-error')).toContain('200');
    await page.fill('#plan-json', '{"steps":[{"status":503,"probability":2}]}');
    await page.click('#plan-set');
    await waitForText('#plan-error', 'steps[0].probability:');
    await page.fill('#plan-json', '{"steps":[');
    await page.click('#plan-set');
    await waitForText('#plan-error', 'plan: the fault plan is not JSON');
    expect(collector.faults().plan).toEqual({ steps: [{ status: 500, count: 1 }] });
    expect(await page.textContent('#plan-steps')).toContain('status 500 · count 1');
    // Every control of the panel has a label.
    const unlabelled = await page.$$eval(
      '#faults input, #faults select, #faults textarea, #faults button',
      (controls) =>
        controls.filter((c) => !(c as HTMLInputElement).labels?.length && !c.textContent?.trim()).map((c) => c.id),
    );
    expect(unlabelled).toEqual([]);
    // A valid plan clears the error.
    await page.fill('#plan-json', '{"steps":[{"hang":true,"count":1}]}');
    await page.click('#plan-set');
    await waitForText('#plan-steps', 'hang · count 1');
    expect(await page.textContent('#plan-error')).toBe('');
  });
});
