// Shared browser helpers for the end-to-end tests.

import { chromium } from 'playwright-core';

export const PASSWORD = 'correct horse battery';

// `trust`: servers whose CA the browser trusts like an installed one
// (needed where a page must count as secure, e.g. for a service worker).
export function launch(trust = []) {
  const spki = trust.map((s) => s.caSpki());
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...(spki.length ? [`--ignore-certificate-errors-spki-list=${spki.join(',')}`] : [])],
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

// Sends `prefix 1` … `prefix n` from the page's message box, as fast as
// the app takes them.
export async function sendMany(page, prefix, n) {
  await page.evaluate(([p, count]) => {
    const input = document.getElementById('message-input');
    for (let i = 1; i <= count; i++) {
      input.value = `${p} ${i}`;
      input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    }
  }, [prefix, n]);
}

export function bodies(page) {
  return page.locator('#messages li.message:not(.pending) .body').allTextContents();
}

// `timeout` (ms) for waits that follow many sends (the default is 30 s).
export async function waitForBody(page, text, timeout) {
  await page.locator('#messages li.message:not(.pending) .body', { hasText: text }).first().waitFor({ timeout });
}

// axe-core, injected into the page (through the debugging protocol, so
// the app's CSP stays as it is). Returns the serious and critical
// violations of WCAG 2.1 A/AA and best practice.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export async function axeViolations(page) {
  await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 4).map((n) => n.target.join(' ')) }));
  });
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

// Answers the in-page dialog: fills its field (if any), presses its OK.
export async function answer(page, value) {
  await page.locator('#ask-dialog[open]').waitFor();
  const asked = await page.locator('#ask-dialog').getAttribute('data-asked');
  if (value !== undefined) await page.locator('#ask-input').fill(value);
  await page.locator('#ask-ok').click();
  // Closed, or already asking the next question.
  await page.waitForFunction((n) => {
    const d = document.getElementById('ask-dialog');
    return !d.open || d.dataset.asked !== n;
  }, asked);
}

// Clicks a control that shows on hover or focus (a message's actions).
// A message's actions take clicks only while it is hovered; if the list
// moves under the mouse between the hover and the click (a message arrives,
// an image loads), hover again, as a user would.
export async function hoverClick(item, name) {
  const button = item.getByRole('button', { name, exact: true });
  for (let tries = 1; ; tries++) {
    await item.hover();
    try {
      await button.click({ timeout: 3000 });
      return;
    } catch (e) {
      if (tries === 5) throw e;
    }
  }
}

// Screenshots go to docs/screenshots with UPDATE_SCREENSHOTS=1 (they are
// committed and shown in the README), to a temp folder otherwise.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const shotsDir = process.env.UPDATE_SCREENSHOTS
  ? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/screenshots')
  : mkdtempSync(path.join(tmpdir(), 'securechat-shots-'));
export const shot = (name) => path.join(shotsDir, name);
