/// <reference lib="dom" />
// The event viewer in a real browser: Debian's Chromium through playwright-core, against the
// local collector of lib/testing. A missing Chromium fails these tests; they never skip.
import { Controller, INestApplication, Param, Post } from '@nestjs/common';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { SnowplowModule, TrackBillingEvent, TrackEvent } from '../../lib';
import { LocalCollector, startLocalCollector } from '../../lib/testing';
import { createApp } from '../support/nest';
import { waitFor } from '../support/wait-for';
import { customEventItem, payloadBody, postPayload } from '../testing/support/snowplow-payloads';
import { Browser, launchChromium } from './support/chromium';
import { SAMPLE_COUNTS, sendSampleEvents } from './support/sample-events';

jest.setTimeout(120_000);

const UI = 20_000;

let browser: Browser;
let collector: LocalCollector;
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
  await page?.close();
  await collector?.close();
  expect(pageErrors).toEqual([]);
});

async function openViewer(query = ''): Promise<void> {
  await page.goto(`${collector.viewerUrl}${query}`);
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live', null, {
    timeout: UI,
  });
}

/** The event cells of the rows in the DOM, top (newest) first. */
function rowLabels(): Promise<string[]> {
  return page.$$eval('#list .row', (rows) =>
    rows
      .sort((a, b) => parseFloat((a as HTMLElement).style.top) - parseFloat((b as HTMLElement).style.top))
      .map((row) => row.querySelector('.event')?.textContent ?? ''),
  );
}

async function waitForRows(count: number): Promise<void> {
  await page.waitForFunction((n) => document.querySelectorAll('#list .row').length === n, count, { timeout: UI });
}

async function text(selector: string): Promise<string> {
  return (await page.textContent(selector)) ?? '';
}

@Controller('orders')
class OrdersController {
  @Post(':id/place')
  @TrackEvent('order_placed', { props: ({ result }) => ({ order_id: (result as { id: string }).id }) })
  @TrackBillingEvent(() => ({
    category: 'shop',
    eventType: 'orders',
    realm: 'SaaS',
    unitOfMeasure: 'order',
    quantity: 1,
  }))
  place(@Param('id') id: string) {
    return { id };
  }
}

describe('the event viewer in Chromium', () => {
  it('shows the events a real Nest app tracks as they arrive, newest first, without a reload', async () => {
    await openViewer();
    expect(await text('#empty')).toContain('No events yet');
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
    const app: INestApplication = await createApp({
      imports: [SnowplowModule.forRoot({ collectorUrl: collector.endpoint, appId: 'orders-api', metrics: false })],
      controllers: [OrdersController],
    });
    try {
      await app.listen(0, '127.0.0.1');
      const { port } = app.getHttpServer().address() as AddressInfo;
      for (const id of ['o-1', 'o-2']) {
        expect((await fetch(`http://127.0.0.1:${port}/orders/${id}/place`, { method: 'POST' })).status).toBe(201);
      }
      await waitForRows(4);
    } finally {
      await app.close();
    }
    const labels = await rowLabels();
    expect(labels.filter((label) => label.startsWith('order_placed'))).toHaveLength(2);
    expect(labels.filter((label) => label.includes('billingorders × 1 order'))).toHaveLength(2);
    // Newest first: the last event the collector received is the top row.
    const newest = collector.good().at(-1)!;
    expect(labels[0]).toContain(newest.name === 'order_placed' ? 'order_placed' : 'shop / orders');
    expect(await page.$$eval('#list .row .app', (cells) => cells.map((c) => c.textContent))).toEqual(
      Array(4).fill('orders-api'),
    );
    expect(await text('#count-total')).toBe('4');
    expect(await text('#count-billing')).toBe('2');
    expect(await text('#billing-units')).toBe('2 order');
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(1);
  });

  it('counts good, bad and billing events with the quantity per unit, and the filters narrow the list', async () => {
    await sendSampleEvents(collector.endpoint);
    await openViewer();
    await waitForRows(SAMPLE_COUNTS.total);
    expect([await text('#count-total'), await text('#count-good'), await text('#count-bad')]).toEqual(['9', '8', '1']);
    expect(await text('#count-billing')).toBe('3');
    expect(await text('#billing-units')).toBe('20 minute · 44 token');

    await page.selectOption('#filter-status', 'bad');
    await waitForRows(1);
    expect(await page.$$eval('#list .row .badge.bad', (b) => b.length)).toBe(1);
    await page.selectOption('#filter-status', '');
    await page.fill('#filter-app', 'shop');
    await waitForRows(4);
    await page.fill('#filter-type', 'checkout');
    await waitForRows(2);
    expect(await rowLabels()).toEqual([
      expect.stringContaining('checkout_completed'),
      expect.stringContaining('checkout_started'),
    ]);
    await page.fill('#filter-type', '');
    await page.fill('#filter-app', '');
    await page.fill('#filter-type', 'billable_usage');
    await waitForRows(4);
    await page.fill('#filter-type', '');
    // Free text over the decoded JSON: a value inside a billing entity.
    await page.fill('#filter-text', 'req-124');
    await waitForRows(1);
    expect((await rowLabels())[0]).toContain('code_suggestions × 44 token');
    expect(await text('#shown')).toBe('1 of 9 events shown');
    await page.fill('#filter-text', 'no-such-text');
    await waitForRows(0);
    expect(await text('#empty')).toBe('No event matches the filters.');
  });

  it('keeps the filter in the URL, so a link reopens the same view', async () => {
    await sendSampleEvents(collector.endpoint);
    await openViewer();
    await waitForRows(SAMPLE_COUNTS.total);
    await page.fill('#filter-app', 'billing-api');
    await page.selectOption('#filter-status', 'good');
    await page.fill('#filter-text', 'ci_minutes');
    await waitForRows(2);
    const url = new URL(page.url());
    expect(Object.fromEntries(url.searchParams)).toEqual({ app: 'billing-api', status: 'good', q: 'ci_minutes' });

    const again = await browser.context.newPage();
    try {
      await again.goto(url.href);
      await again.waitForFunction(() => document.querySelectorAll('#list .row').length === 2, null, { timeout: UI });
      expect(await again.inputValue('#filter-app')).toBe('billing-api');
      expect(await again.inputValue('#filter-status')).toBe('good');
      expect(await again.inputValue('#filter-text')).toBe('ci_minutes');
    } finally {
      await again.close();
    }
  });

  it("shows a billing event's entity, a bad event's validation errors, and copies an event as JSON", async () => {
    await sendSampleEvents(collector.endpoint);
    await openViewer('?q=req-124');
    await waitForRows(1);
    await page.click('#list .row');
    const entity = page.locator('#detail .entity.billing');
    await entity.waitFor({ timeout: UI });
    expect(await entity.locator('.schema-uri').textContent()).toBe(
      'billingiglu:com.gitlab/billable_usage/jsonschema/1-0-2',
    );
    const data = JSON.parse((await entity.locator('pre').textContent()) ?? '');
    expect(data).toMatchObject({
      event_type: 'code_suggestions',
      quantity: 44,
      unit_of_measure: 'token',
      correlation_id: 'req-124',
    });
    expect(await text('#detail')).toContain('Category (se_ca)');

    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: collector.url });
    await page.click('#copy-json');
    await page.locator('#detail .copied', { hasText: 'Copied' }).waitFor({ timeout: UI });
    const copied = JSON.parse(await page.evaluate(() => navigator.clipboard.readText()));
    expect(copied).toEqual(
      JSON.parse(JSON.stringify(collector.good().find((e) => e.raw.se_ac === 'code_suggestions'))),
    );

    await page.fill('#filter-text', '');
    await page.selectOption('#filter-status', 'bad');
    await waitForRows(1);
    await page.click('#list .row');
    const error = page.locator('#detail table.errors tbody tr');
    await error.first().waitFor({ timeout: UI });
    const cells = await error.first().locator('td').allTextContents();
    expect(cells.slice(0, 3)).toEqual(['cx', '/data/0/data/realm', 'iglu:com.gitlab/billable_usage/jsonschema/1-0-2']);
    expect(cells[3]).toContain('realm');
    expect(await text('#detail .entity.billing pre')).toContain('"realm": "Moon"');
  });

  it('moves through the list with the keyboard, the detail following the selection', async () => {
    await sendSampleEvents(collector.endpoint);
    await openViewer();
    await waitForRows(SAMPLE_COUNTS.total);
    // Tab order: the reset button, the filters, then the list.
    await page.focus('#clear-filters');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('list');
    const active = () => page.$eval('#list', (list) => list.getAttribute('aria-activedescendant'));
    const selectedLabel = () => page.$eval('#list .row[aria-selected="true"] .label', (cell) => cell.textContent);
    const ids = await page.$$eval('#list .row', (rows) =>
      rows
        .sort((a, b) => parseFloat((a as HTMLElement).style.top) - parseFloat((b as HTMLElement).style.top))
        .map((row) => row.id),
    );
    await waitFor(async () => (await active()) === ids[0], { what: 'the first row selected on focus' });
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await waitFor(async () => (await active()) === ids[2], { what: 'the third row' });
    expect(await text('#detail .title')).toBe(await selectedLabel());
    await page.keyboard.press('End');
    await waitFor(async () => (await active()) === ids.at(-1), { what: 'the last row' });
    expect(await text('#detail .title')).toBe(await selectedLabel());
    expect(await page.$eval('#list .row[aria-selected="true"]', (row) => row.getAttribute('data-id'))).toBe('1');
    await page.keyboard.press('Home');
    await waitFor(async () => (await active()) === ids[0], { what: 'the first row again' });
    // Every control has a label.
    const unlabelled = await page.$$eval('input, select, button', (controls) =>
      controls.filter((c) => !(c as HTMLInputElement).labels?.length && !c.textContent?.trim()).map((c) => c.id),
    );
    expect(unlabelled).toEqual([]);
  });

  it('empties the list and the counters on reset', async () => {
    await sendSampleEvents(collector.endpoint);
    await openViewer();
    await waitForRows(SAMPLE_COUNTS.total);
    await page.click('#list .row');
    await page.click('#reset');
    await waitForRows(0);
    expect(collector.all()).toEqual({ total: 0, good: 0, bad: 0, dropped: 0 });
    expect([await text('#count-total'), await text('#count-billing'), await text('#billing-units')]).toEqual([
      '0',
      '0',
      'none',
    ]);
    expect(await page.isHidden('#detail-body')).toBe(true);
    await postPayload(collector.endpoint, payloadBody(customEventItem('after_reset', null)));
    await waitForRows(1);
  });

  it('stays responsive with 10,000 events: a window of rows in the DOM, the whole list reachable', async () => {
    const batch = (from: number) =>
      payloadBody(...Array.from({ length: 500 }, (_, i) => customEventItem(`bulk_${from + i}`, { i: from + i })));
    for (let from = 0; from < 10_000; from += 500) await postPayload(collector.endpoint, batch(from));
    expect(collector.all().total).toBe(10_000);
    await openViewer();
    await page.waitForFunction(() => document.getElementById('count-total')?.textContent === '10,000', null, {
      timeout: UI,
    });
    const rendered = await page.$$eval('#list .row', (rows) => rows.length);
    expect(rendered).toBeGreaterThan(10);
    expect(rendered).toBeLessThan(100);
    // Filtering 10,000 events by free text narrows the list to the one event.
    await page.fill('#filter-text', 'bulk_9999');
    await waitForRows(1);
    await page.fill('#filter-text', '');
    await page.focus('#list');
    await page.keyboard.press('End');
    await page.waitForFunction(
      () => document.querySelector('#list .row[aria-selected="true"] .label')?.textContent === 'bulk_0',
      null,
      { timeout: UI },
    );
  });

  it('keeps the rows a reader scrolled to in place while new events arrive above them', async () => {
    const items = Array.from({ length: 200 }, (_, i) => customEventItem(`old_${i}`, null));
    await postPayload(collector.endpoint, payloadBody(...items));
    await openViewer();
    await page.waitForFunction(() => document.getElementById('count-total')?.textContent === '200', null, {
      timeout: UI,
    });
    // Scrolled to the bottom, where the oldest events are: there is nothing below to scroll into.
    await page.$eval('#list', (list) => (list.scrollTop = list.scrollHeight));
    const rowAtTop = () =>
      page.$eval('#list', (list) => {
        const rows = [...list.querySelectorAll('.row')] as HTMLElement[];
        const covers = (row: HTMLElement) =>
          parseFloat(row.style.top) <= list.scrollTop && parseFloat(row.style.top) + 32 > list.scrollTop;
        return rows.find(covers)?.querySelector('.label')?.textContent;
      });
    const before = await waitFor(() => rowAtTop(), { what: 'a row at the top of the view' });
    expect(before).toMatch(/^old_\d+$/);
    await postPayload(
      collector.endpoint,
      payloadBody(...['new_1', 'new_2', 'new_3'].map((n) => customEventItem(n, null))),
    );
    await page.waitForFunction(() => document.getElementById('count-total')?.textContent === '203', null, {
      timeout: UI,
    });
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(resolve)));
    expect(await rowAtTop()).toBe(before);
  });

  it('mirrors the collector cap: the oldest events leave the list and the dropped count shows', async () => {
    await collector.close();
    collector = await startLocalCollector({ port: 0, maxEvents: 5 });
    await openViewer();
    await postPayload(collector.endpoint, payloadBody(...['a', 'b', 'c', 'd'].map((n) => customEventItem(n, null))));
    await waitForRows(4);
    await postPayload(collector.endpoint, payloadBody(...['e', 'f', 'g'].map((n) => customEventItem(n, null))));
    await page.waitForFunction(() => document.getElementById('count-dropped')?.textContent === '2', null, {
      timeout: UI,
    });
    expect(await rowLabels()).toEqual(['g', 'f', 'e', 'd', 'c'].map((name) => `${name}com.gitlab/custom_event@1-0-0`));
    expect(await page.isVisible('#dropped-box')).toBe(true);
  });

  it('keeps another web page away: it can POST events without credentials, not reset or read /micro/*', async () => {
    await sendSampleEvents(collector.endpoint);
    const foreign = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!doctype html><title>another site</title>');
    });
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
    try {
      await page.goto(`http://127.0.0.1:${(foreign.address() as AddressInfo).port}/`);
      const outcome = await page.evaluate(
        async ({ url, endpoint, body }) => {
          const attempt = async (run: () => Promise<Response>) => {
            try {
              const response = await run();
              return response.type === 'opaque' ? 'opaque' : `${response.status}`;
            } catch {
              return 'blocked';
            }
          };
          return {
            track: await attempt(() =>
              fetch(endpoint, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body }),
            ),
            resetNoCors: await attempt(() => fetch(`${url}/micro/reset`, { method: 'POST', mode: 'no-cors' })),
            resetCors: await attempt(() => fetch(`${url}/micro/reset`, { method: 'POST', credentials: 'include' })),
            read: await attempt(() => fetch(`${url}/micro/good`, { credentials: 'include' })),
            readPlain: await attempt(() => fetch(`${url}/micro/good`)),
          };
        },
        {
          url: collector.url,
          endpoint: collector.endpoint,
          body: JSON.stringify(payloadBody(customEventItem('from_another_page', null))),
        },
      );
      expect(outcome).toEqual({
        track: '200',
        resetNoCors: 'opaque',
        resetCors: 'blocked',
        read: 'blocked',
        readPlain: 'blocked',
      });
      expect(collector.all()).toMatchObject({ total: SAMPLE_COUNTS.total + 1 });
    } finally {
      foreign.closeAllConnections();
      await new Promise<void>((resolve) => foreign.close(() => resolve()));
    }
  });
});
