// Shared browser helpers for the end-to-end tests.

import { chromium } from 'playwright-core';

export const PASSWORD = 'correct horse battery';

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// A page on `url`, failing the test on any script error.
export async function openPage(browser, url, viewport = { width: 1100, height: 720 }) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
  const page = await context.newPage();
  page.on('pageerror', (e) => { throw e; });
  await page.goto(url);
  return page;
}

export async function signIn(page, name, button = 'Register', password = PASSWORD) {
  await page.locator('#login-form').getByLabel('Username').fill(name);
  await page.locator('#login-form').getByLabel('Password').fill(password);
  await page.getByRole('button', { name: button }).click();
}

export async function newUser(browser, url, name, viewport) {
  const page = await openPage(browser, url, viewport);
  page.on('dialog', (d) => { throw new Error(`unexpected dialog: ${d.message()}`); });
  await signIn(page, name);
  await page.locator('#conn-status.connected').waitFor();
  return page;
}

export function composer(page) {
  return page.getByRole('textbox', { name: 'Message' });
}

export async function say(page, text) {
  await composer(page).fill(text);
  await composer(page).press('Enter');
}

export function bodies(page) {
  return page.locator('#messages li.message:not(.pending) .body').allTextContents();
}

export async function waitForBody(page, text) {
  await page.locator('#messages li.message:not(.pending) .body', { hasText: text }).first().waitFor();
}
