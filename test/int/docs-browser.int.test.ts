/**
 * /docs in a real browser (headless Chromium): Swagger UI loads under the CSP the gateway sends
 * for it, without a CSP violation or a script error, reads /docs/json and shows every
 * operation of the API.
 */
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../fixtures/browser.js';
import { useStack } from '../fixtures/stack.js';

const ctx = useStack({
  stack: {
    env: {
      API_KEYS: 'browser-key-0123456789abcdef:acme',
      ADMIN_API_KEY: 'browser-admin-0123456789',
    },
  },
});
let browser: Browser | undefined;
afterAll(async () => browser?.close());

describe('/docs in a browser', () => {
  it('renders Swagger UI with every operation, and the CSP blocks nothing it needs', async () => {
    browser = await launchBrowser();
    const page = await browser.newPage();
    // Every wait below fails within the test's budget instead of hanging.
    page.setDefaultTimeout(15_000);
    const problems: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()}`));

    const res = await page.goto(`${ctx.stack.gatewayUrl}/docs`, { waitUntil: 'load' });
    expect(res?.status()).toBe(200);
    await page.locator('.opblock').first().waitFor();
    expect(await page.locator('.opblock').count()).toBe(12);
    expect(await page.locator('.info .title').innerText()).toMatch(/^nats-orders\s+\d+\.\d+\.\d+/);
    const summaries = await page.locator('.opblock-summary-description').allInnerTexts();
    expect(summaries).toEqual(
      expect.arrayContaining([
        'Submit an order',
        'Read an order',
        'Run a dead-lettered order again',
      ]),
    );
    expect(problems).toEqual([]);
  }, 60_000);
});
