// Accessibility: axe-core finds no serious or critical violation on any
// view (login, chat, dialogs, user card, image viewer, thread, emoji
// picker, notifications, pins, Threads, Mentions, admin page), light
// and dark, desktop and phone; and the app works by keyboard alone.
// Also takes the README's screenshots of each.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, newUser, say, waitForBody, axeViolations, shot, hoverClick } from './browser.mjs';
import { Server } from './server.mjs';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const server = new Server({ env: { SECURECHAT_RATE_PER_SEC: '1000', SECURECHAT_BURST: '1000' } });
let browser;

before(async () => {
  await server.start();
  browser = await launch([server]);
});

after(async () => {
  if (browser) await browser.close();
  await server.stop();
});

const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };

async function check(page, where, found) {
  for (const v of await axeViolations(page)) found.push({ where, ...v });
}

test('axe finds no serious or critical violation on any view, light and dark, desktop and phone', async () => {
  // A conversation worth looking at: a profile, grouped messages, a file,
  // an image, a notice, a DM.
  const zoe = await newUser(browser, server.url, 'zoe', VIEWPORTS.desktop);
  const yan = await newUser(browser, server.url, 'yan', VIEWPORTS.desktop);
  await zoe.evaluate(async () => {
    await fetch('/api/me', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ display_name: 'Zoë Park', status: 'Design reviews all day' }) });
  });
  await zoe.evaluate(async () => {
    await fetch('/api/rooms', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'public', name: 'design', topic: 'Pixels and words' }) });
  });
  await say(zoe, 'Morning! The new onboarding flow is ready for review.');
  await say(zoe, 'Mockups are in the design doc: https://example.com/onboarding');
  await say(yan, 'Great, I will take a look after standup.');
  await yan.locator('#file-input').setInputFiles([
    { name: 'flow.png', mimeType: 'image/png', buffer: PNG },
    { name: 'notes.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4 notes') },
  ]);
  await zoe.locator('#messages .file-link', { hasText: 'notes.pdf' }).waitFor();
  await say(yan, 'Two questions:\n1. Do we keep the **skip** button?\n2. Which copy for step three?');
  await waitForBody(zoe, 'Which copy');
  // A reaction, a thread that mentions zoe, a pin.
  const first = (page) => page.locator('#messages li.message:not(.pending)', { hasText: 'onboarding flow is ready' }).first();
  await hoverClick(first(yan), 'Add reaction');
  await yan.getByRole('button', { name: 'party popper' }).first().click();
  await first(zoe).locator('.reaction').waitFor();
  await hoverClick(first(yan), 'Reply in thread');
  await yan.getByRole('textbox', { name: 'Reply in thread' }).fill('@zoe looks good, one nit on `step 2`');
  await yan.getByRole('textbox', { name: 'Reply in thread' }).press('Enter');
  await first(zoe).locator('.thread-summary').waitFor();
  await hoverClick(first(zoe), 'Pin message');
  await first(zoe).locator('.pinned').waitFor();
  await zoe.getByRole('button', { name: /^Message yan/ }).click();
  await say(zoe, 'Lunch at 1?');
  await zoe.locator('#room-list button', { hasText: 'general' }).click();
  await zoe.locator('#room-name', { hasText: '#general' }).waitFor();
  await zoe.context().close();
  await yan.context().close();

  const found = [];
  for (const [size, viewport] of Object.entries(VIEWPORTS)) {
    for (const scheme of ['light', 'dark']) {
      const tag = `${size} ${scheme}`;
      const login = await openPage(browser, server.url, viewport);
      await login.emulateMedia({ colorScheme: scheme });
      await login.locator('#login-form').waitFor();
      await check(login, `login, ${tag}`, found);
      await login.context().close();

      const page = await openPage(browser, server.url, viewport);
      await page.emulateMedia({ colorScheme: scheme });
      await page.locator('#login-form').getByLabel('Username').fill('zoe');
      await page.locator('#login-form').getByLabel('Password').fill('correct horse battery');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.locator('#conn-status.connected').waitFor();
      await waitForBody(page, 'Which copy');
      await page.waitForFunction(() => [...document.querySelectorAll('#messages img')].every((i) => i.complete));
      await check(page, `chat, ${tag}`, found);
      await page.mouse.move(0, viewport.height - 1);
      await page.screenshot({ path: shot(`chat-${size}-${scheme}.png`) });
      if (size === 'phone') {
        await page.getByRole('button', { name: 'Show rooms' }).click();
        await check(page, `rooms open, ${tag}`, found);
        await page.getByRole('button', { name: 'Show rooms' }).click();
      }
      await page.getByRole('searchbox', { name: 'Search messages' }).fill('onboarding');
      await page.getByRole('searchbox', { name: 'Search messages' }).press('Enter');
      await page.locator('#search-results mark').first().waitFor();
      await check(page, `search, ${tag}`, found);
      await page.locator('#search-results button').first().click();
      await page.locator('#messages li.found').waitFor();
      // Collaboration: a thread, the emoji picker, notification settings,
      // pins, and the Threads and Mentions views.
      await page.locator('#messages .thread-summary').first().click();
      await page.locator('#thread-panel li.message .body', { hasText: 'one nit' }).waitFor();
      await check(page, `thread, ${tag}`, found);
      await page.getByRole('button', { name: 'Close thread' }).click();
      await hoverClick(page.locator('#messages li.message').last(), 'Add reaction');
      await page.locator('#emoji-dialog[open]').waitFor();
      await check(page, `emoji picker, ${tag}`, found);
      await page.keyboard.press('Escape');
      await page.locator('#notify-settings-button').click();
      await page.locator('#notify-dialog[open]').waitFor();
      await check(page, `notifications, ${tag}`, found);
      await page.keyboard.press('Escape');
      await page.locator('#pins-button').click();
      await page.locator('#pins-list li').first().waitFor();
      await check(page, `pins, ${tag}`, found);
      await page.keyboard.press('Escape');
      if (size === 'phone') await page.getByRole('button', { name: 'Show rooms' }).click();
      await page.locator('#threads-button').click();
      await page.locator('#threads-list li').first().waitFor();
      await check(page, `threads, ${tag}`, found);
      if (size === 'phone') await page.getByRole('button', { name: 'Show rooms' }).click();
      await page.locator('#mentions-button').click();
      await page.locator('#mentions-list li').first().waitFor();
      await check(page, `mentions, ${tag}`, found);
      await page.locator('#mentions-close').click();
      await page.locator('#messages .from', { hasText: 'yan' }).first().click();
      await page.locator('#user-card[open]').waitFor();
      await check(page, `user card, ${tag}`, found);
      await page.keyboard.press('Escape');
      await page.locator('#user-card').waitFor({ state: 'hidden' });
      await page.getByRole('button', { name: 'Open image flow.png' }).click();
      await page.locator('#viewer[open]').waitFor();
      await check(page, `image viewer, ${tag}`, found);
      await page.keyboard.press('Escape');
      await page.locator('.user-menu summary').click();
      await page.getByRole('button', { name: 'Profile', exact: true }).click();
      await page.locator('#profile-dialog[open]').waitFor();
      await check(page, `profile, ${tag}`, found);
      await page.keyboard.press('Escape');
      await page.locator('.user-menu summary').click();
      await page.getByRole('button', { name: 'Administration' }).click();
      await page.locator('#admin-stats dd').first().waitFor();
      await check(page, `admin, ${tag}`, found);
      if (scheme === 'light') await page.screenshot({ path: shot(`admin-${size}.png`) });
      await page.context().close();
    }
  }
  assert.deepEqual(found, [], JSON.stringify(found, null, 2));
});

// Presses Tab until the focused element matches `selector` (at most `max`).
async function tabTo(page, selector, max = 80) {
  for (let i = 0; i < max; i++) {
    if (await page.evaluate((s) => document.activeElement && document.activeElement.matches(s), selector)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${selector}`);
}

test('the whole app works by keyboard', async () => {
  const kim = await newUser(browser, server.url, 'kimiko');
  const other = await newUser(browser, server.url, 'otto');
  const keys = (k) => kim.keyboard.press(k);
  // Make a room: Tab to "+", Enter, type, Enter.
  await tabTo(kim, '#new-room-button');
  await keys('Enter');
  await kim.keyboard.type('keyboard');
  await keys('Enter');
  await kim.locator('#room-name', { hasText: '#keyboard' }).waitFor();
  // Back to general from the sidebar.
  await tabTo(kim, '#room-list button[aria-current="false"]');
  await keys('Enter');
  await kim.locator('#room-name', { hasText: '#general' }).waitFor();
  // Write, send, then edit it with its Edit button reached by Tab.
  await tabTo(kim, '#message-input');
  await kim.keyboard.type('typed without a mouse');
  await keys('Enter');
  await waitForBody(other, 'typed without a mouse');
  await kim.locator('#messages li.message:not(.pending)', { hasText: 'typed without a mouse' }).waitFor();
  await kim.evaluate(() => document.getElementById('messages').focus());
  await tabTo(kim, '#messages li.message.mine .actions button[aria-label="Edit message"]');
  assert.equal(await kim.locator('#messages li.message.mine .actions').last().evaluate((a) => getComputedStyle(a).opacity), '1');
  await keys('Enter');
  await kim.getByRole('textbox', { name: 'Edit message' }).waitFor();
  await kim.keyboard.press('End');
  await kim.keyboard.type(', edited too');
  await keys('Enter');
  await waitForBody(other, 'typed without a mouse, edited too');
  // The account menu and a dialog, closed with Escape.
  await tabTo(kim, '.user-menu summary');
  await keys('Enter');
  await tabTo(kim, '#profile-button');
  await keys('Enter');
  await kim.locator('#profile-dialog[open]').waitFor();
  await kim.keyboard.type('Kim by keyboard');
  await keys('Enter');
  await kim.locator('#profile-dialog').waitFor({ state: 'hidden' });
  await other.locator('#messages .from', { hasText: 'Kim by keyboard' }).first().waitFor();
  // A person's DM, from the people list.
  await tabTo(kim, '#user-list button[data-user="otto"]');
  await keys('Enter');
  await kim.locator('#room-name', { hasText: '@otto' }).waitFor();
  await tabTo(kim, '#message-input');
  await kim.keyboard.type('hello otto');
  await keys('Enter');
  await other.locator('#dm-list button', { hasText: 'Kim by keyboard' }).locator('.badge', { hasText: '1' }).waitFor();
  for (const p of [kim, other]) await p.context().close();
});
