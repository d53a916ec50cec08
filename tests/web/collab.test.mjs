// End-to-end: collaboration in the browser — formatting drawn from the
// parse tree (never HTML), reactions with the built-in picker, threads in
// their panel (also-to-room, follow, the Threads view), @ completion,
// highlighted mentions and the Mentions view, per-room notification
// levels (and what they do to notifications and the title), pins, and
// links to a message.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newUser, composer, say, waitForBody, hoverClick, shot } from './browser.mjs';
import { Server } from './server.mjs';

const FAST = {
  SECURECHAT_RATE_PER_SEC: '1000', SECURECHAT_BURST: '1000',
  SECURECHAT_ACTION_RATE_PER_SEC: '100', SECURECHAT_ACTION_BURST: '200',
};
const server = new Server({ env: FAST });
let browser;

before(async () => {
  await server.start();
  browser = await launch([server]);
});

after(async () => {
  if (browser) await browser.close();
  await server.stop();
});

const item = (page, text) => page.locator('#messages li.message:not(.pending)', { has: page.locator('.body', { hasText: text }) }).first();

// Headless tabs are never hidden: declare one hidden, and record the
// notifications the app shows.
async function hide(page) {
  await page.context().grantPermissions(['notifications'], { origin: server.url });
  await page.evaluate(() => {
    window.shown = [];
    const Real = window.Notification;
    window.Notification = class extends Real {
      constructor(title, opts) { super(title, opts); window.shown.push(title); }
    };
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
}

test('formatting is drawn from the grammar, and markup in text stays text', async () => {
  const ann = await newUser(browser, server.url, 'fmt-ann');
  const text = '**bold** *it* ~~old~~ `a<b>` https://example.com/x\n> quoted\n- one\n- two\n```js\nlet x = "<img src=x onerror=alert(1)>";\n```\n<script>alert(2)</script>';
  await composer(ann).fill(text);
  await composer(ann).press('Enter');
  const body = item(ann, 'quoted').locator('.body');
  await body.waitFor();
  assert.equal(await body.locator('strong').textContent(), 'bold');
  assert.equal(await body.locator('em').textContent(), 'it');
  assert.equal(await body.locator('del').textContent(), 'old');
  assert.equal(await body.locator('p code').textContent(), 'a<b>');
  assert.equal(await body.locator('a').getAttribute('href'), 'https://example.com/x');
  assert.equal(await body.locator('blockquote').textContent(), 'quoted');
  assert.deepEqual(await body.locator('ul li').allTextContents(), ['one', 'two']);
  assert.equal(await body.locator('pre code').textContent(), 'let x = "<img src=x onerror=alert(1)>";');
  assert.equal(await body.locator('pre').getAttribute('data-lang'), 'js');
  // The code block scrolls sideways rather than wrapping.
  assert.equal(await body.locator('pre').evaluate((p) => getComputedStyle(p).overflowX), 'auto');
  // Nothing from the text became an element.
  assert.equal(await body.locator('img, script, b').count(), 0);
  assert.match(await body.textContent(), /<script>alert\(2\)<\/script>/);
  await ann.context().close();
});

test('reactions: the picker, toggling, counts and who reacted', async () => {
  const ana = await newUser(browser, server.url, 'rx-ana');
  const bo = await newUser(browser, server.url, 'rx-bo');
  await say(ana, 'who wants lunch?');
  await waitForBody(bo, 'who wants lunch?');
  await hoverClick(item(bo, 'who wants lunch?'), 'Add reaction');
  await bo.locator('#emoji-dialog[open]').waitFor();
  // Search by name; Enter takes the first match.
  await bo.getByLabel('Search by name').fill('party');
  assert.deepEqual(await bo.locator('#emoji-grid button').evaluateAll((bs) => bs.map((b) => b.textContent)), ['🎉', '🥳']);
  await bo.getByLabel('Search by name').press('Enter');
  await bo.locator('#emoji-dialog').waitFor({ state: 'hidden' });
  const chip = (page) => item(page, 'who wants lunch?').locator('.reaction[data-emoji="🎉"]');
  await chip(ana).waitFor();
  assert.equal(await chip(ana).locator('.count').textContent(), '1');
  assert.equal(await chip(ana).getAttribute('aria-pressed'), 'false');
  assert.equal(await chip(bo).getAttribute('aria-pressed'), 'true');
  // Ana joins in by clicking the chip: two, by both.
  await chip(ana).click();
  await chip(bo).locator('.count', { hasText: '2' }).waitFor();
  assert.equal(await chip(bo).getAttribute('title'), '🎉 by rx-bo and rx-ana');
  assert.match(await chip(ana).getAttribute('aria-label'), /party popper 2, by rx-bo and rx-ana\. Remove yours/);
  // A quick pick from the keyboard.
  await item(ana, 'who wants lunch?').getByRole('button', { name: 'Add reaction' }).focus();
  await ana.keyboard.press('Enter');
  await ana.getByRole('button', { name: 'thumbs up' }).first().click();
  await item(bo, 'who wants lunch?').locator('.reaction[data-emoji="👍"]').waitFor();
  // Toggling off: Bo's click takes his away.
  await chip(bo).click();
  await chip(ana).locator('.count', { hasText: '1' }).waitFor();
  assert.equal(await chip(ana).getAttribute('aria-pressed'), 'true');
  // After a reload they come from history.
  await bo.reload();
  await chip(bo).locator('.count', { hasText: '1' }).waitFor();
  await item(bo, 'who wants lunch?').screenshot({ path: shot('reactions.png') });
  for (const p of [ana, bo]) await p.context().close();
});

test('threads: reply in the panel, also to the room, follow, and the Threads view', async () => {
  const cy = await newUser(browser, server.url, 'th-cy');
  const di = await newUser(browser, server.url, 'th-di');
  await say(cy, 'release on friday?');
  await waitForBody(di, 'release on friday?');
  await hoverClick(item(di, 'release on friday?'), 'Reply in thread');
  const panel = di.locator('#thread-panel');
  await panel.waitFor();
  await panel.locator('li.message .body', { hasText: 'release on friday?' }).waitFor();
  await di.getByRole('textbox', { name: 'Reply in thread' }).fill('only if **tests** pass');
  await di.getByRole('textbox', { name: 'Reply in thread' }).press('Enter');
  await panel.locator('li.message:not(.pending) .body strong', { hasText: 'tests' }).waitFor();
  // In the room: a summary on the root, not the reply itself.
  const summary = item(cy, 'release on friday?').locator('.thread-summary');
  await summary.filter({ hasText: '1 reply' }).waitFor();
  assert.match(await summary.textContent(), /th-di/);
  assert.equal(await cy.locator('#messages .body', { hasText: 'only if tests pass' }).count(), 0);
  // Cy started it, so follows it: one unread reply on the Threads button.
  await cy.locator('#threads-badge', { hasText: '1' }).waitFor();
  // "Also send to the room": shown in both places.
  await di.getByLabel('Also send to #general').check();
  await di.getByRole('textbox', { name: 'Reply in thread' }).fill('and the changelog');
  await di.getByRole('button', { name: 'Reply', exact: true }).click();
  await waitForBody(cy, 'and the changelog');
  await item(cy, 'and the changelog').getByRole('button', { name: 'replied in a thread' }).waitFor();
  await summary.filter({ hasText: '2 replies' }).waitFor();
  assert.equal(await di.locator('#thread-follow').textContent(), 'Unfollow');
  await di.screenshot({ path: shot('thread-desktop-light.png') });
  // The Threads view: the thread with its unread replies; opening it reads them.
  await cy.locator('#threads-button').click();
  const listed = cy.locator('#threads-list button', { hasText: 'release on friday?' });
  await listed.waitFor();
  assert.match(await listed.textContent(), /2 replies.*2 unread/);
  await listed.click();
  await cy.locator('#thread-panel li.message .body', { hasText: 'and the changelog' }).waitFor();
  await cy.locator('#threads-badge').waitFor({ state: 'hidden' });
  // With the tab hidden, a reply in a followed thread notifies.
  await cy.getByRole('button', { name: 'Close thread' }).click();
  await hide(cy);
  await di.getByRole('textbox', { name: 'Reply in thread' }).fill('ping in the thread');
  await di.getByRole('textbox', { name: 'Reply in thread' }).press('Enter');
  await cy.waitForFunction(() => window.shown.length === 1);
  assert.deepEqual(await cy.evaluate(() => window.shown), ['th-di replied in a thread in #general']);
  await cy.locator('#threads-badge', { hasText: '1' }).waitFor();
  // Unfollowing: no more badge, and no notification, for new replies.
  await summary.click();
  await cy.locator('#thread-follow', { hasText: 'Unfollow' }).waitFor();
  await cy.locator('#thread-follow').click();
  await cy.locator('#thread-follow', { hasText: 'Follow' }).waitFor();
  await cy.getByRole('button', { name: 'Close thread' }).click();
  await di.getByRole('textbox', { name: 'Reply in thread' }).fill('one more');
  await di.getByRole('textbox', { name: 'Reply in thread' }).press('Enter');
  await summary.filter({ hasText: '4 replies' }).waitFor();
  assert.equal(await cy.locator('#threads-badge').isHidden(), true);
  assert.equal(await cy.evaluate(() => window.shown.length), 1);
  // On a phone the panel takes the screen, in both themes.
  await di.setViewportSize({ width: 390, height: 760 });
  await di.screenshot({ path: shot('thread-phone-light.png') });
  await di.emulateMedia({ colorScheme: 'dark' });
  await di.screenshot({ path: shot('thread-phone-dark.png') });
  await di.setViewportSize({ width: 1100, height: 720 });
  await di.screenshot({ path: shot('thread-desktop-dark.png') });
  for (const p of [cy, di]) await p.context().close();
});

test('mentions: completion, highlight, counts, the Mentions view, and notification levels', async () => {
  const eli = await newUser(browser, server.url, 'mx-eli');
  const fay = await newUser(browser, server.url, 'mx-fay');
  // Fay is in a second room, so general's mention badge shows in the list.
  await fay.getByRole('button', { name: 'Create room' }).click();
  await fay.getByLabel('Name', { exact: true }).fill('mx-side');
  await fay.locator('#room-create-button').click();
  await fay.locator('#room-name', { hasText: '#mx-side' }).waitFor();

  // Eli types "@mx-f": the list offers mx-fay; Tab completes it.
  await eli.locator('#room-list button', { hasText: 'general' }).click();
  await composer(eli).fill('hey @mx-f');
  await composer(eli).press('End');
  await eli.keyboard.type('a');
  const option = eli.locator('#mention-list [role="option"][data-name="mx-fay"]');
  await option.waitFor();
  assert.equal(await composer(eli).getAttribute('aria-activedescendant'), 'mention-list-0');
  await eli.waitForFunction(() => document.activeElement.id === 'message-input'
    && document.getElementById('message-input').value === 'hey @mx-fa'
    && !document.getElementById('mention-list').hidden);
  await eli.keyboard.press('Tab');
  assert.equal(await composer(eli).inputValue(), 'hey @mx-fay ');
  await eli.keyboard.type('can you review?');
  await composer(eli).press('Enter');

  // Fay: an @1 badge on general, the Mentions badge, the highlighted message.
  const generalButton = fay.locator('#room-list button', { hasText: 'general' });
  await generalButton.locator('.badge.at', { hasText: '@1' }).waitFor();
  await fay.locator('#mentions-badge', { hasText: '1' }).waitFor();
  await fay.locator('#mentions-button').click();
  const found = fay.locator('#mentions-list button', { hasText: 'can you review?' });
  await found.waitFor();
  await found.click();
  await fay.locator('#messages li.message.mentioned .mention.you', { hasText: '@mx-fay' }).waitFor();
  await generalButton.locator('.badge.at').waitFor({ state: 'detached' });

  // Mentions only: a plain message notifies nothing, a mention does.
  await fay.locator('#notify-settings-button').click();
  await fay.getByLabel('Only mentions and followed threads').check();
  await fay.locator('#notify-save').click();
  await fay.locator('#notify-settings-button', { hasText: 'Mentions only' }).waitFor();
  // Her other session follows at once (the setting is kept on the server).
  const fay2 = await fay.context().newPage();
  await fay2.goto(server.url);
  await fay2.locator('#conn-status.connected').waitFor();
  await fay2.locator('#room-list button', { hasText: 'general' }).click();
  await fay2.locator('#notify-settings-button', { hasText: 'Mentions only' }).waitFor();
  await fay2.close();

  await hide(fay);
  await say(eli, 'just chatting');
  await say(eli, '@mx-fay ping');
  await fay.waitForFunction(() => window.shown.length === 1);
  assert.deepEqual(await fay.evaluate(() => window.shown), ['mx-eli mentioned you in #general']);
  // The title counts what the level lets count: the mention, not the chat.
  await fay.waitForFunction(() => document.title === '(1) SecureChat')
    .catch(async () => assert.fail(`the title is ${JSON.stringify(await fay.title())}`));
  // Muted: nothing notifies, nothing in the title.
  await fay.evaluate(async () => {
    const room = [...document.querySelectorAll('#room-list button')].find((b) => b.textContent.includes('general')).dataset.room;
    await fetch(`/api/rooms/${room}/notifications`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ level: 'all', muted: true }) });
  });
  await fay.locator('#room-list button.muted-room', { hasText: 'general' }).waitFor();
  await say(eli, '@mx-fay are you there?');
  await fay.waitForTimeout(500);
  assert.equal(await fay.evaluate(() => window.shown.length), 1);
  assert.equal(await fay.evaluate(() => document.title), 'SecureChat');
  for (const p of [eli, fay]) await p.context().close();
});

test('pins and links to a message', async () => {
  const gus = await newUser(browser, server.url, 'pin-gus');
  for (let i = 1; i <= 30; i++) await say(gus, `filler ${i}`);
  await say(gus, 'the runbook is at https://example.com/runbook');
  for (let i = 31; i <= 60; i++) await say(gus, `filler ${i}`);
  await waitForBody(gus, 'filler 60');
  await hoverClick(item(gus, 'the runbook is at'), 'Pin message');
  await item(gus, 'the runbook is at').locator('.pinned').waitFor();
  await gus.locator('#pins-button').click();
  const pinned = gus.locator('#pins-list button', { hasText: 'the runbook is at' });
  await pinned.waitFor();
  await pinned.click();
  await item(gus, 'the runbook is at').and(gus.locator('.found')).waitFor();

  // "Copy link": the address opens the room scrolled to the message.
  await gus.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  await hoverClick(item(gus, 'filler 3'), 'Copy link to message');
  await gus.locator('#toast', { hasText: 'Link copied' }).waitFor();
  const link = await gus.evaluate(() => navigator.clipboard.readText());
  assert.match(link, /\/#\/room\/\d+\/message\/\d+$/);
  const other = await gus.context().newPage();
  await other.goto(link);
  await other.locator('#messages li.message.found .body', { hasText: /^filler 3$/ }).waitFor();
  const top = await other.locator('#messages li.found').evaluate((li) => li.getBoundingClientRect().top);
  assert.ok(top > 0 && top < 720, `the linked message is on screen (${top})`);
  await gus.context().close();
});
