// End-to-end: the finished product — profiles and user cards, grouped
// messages with avatars, actions on hover and focus, inline edit, the
// "new messages" line and "jump to latest", files as cards and the image
// viewer, the first-run guide, the admin pages, dark mode, and the app
// opening offline with its queued messages.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, openPage, signIn, newUser, composer, say, sendMany, waitForBody, hoverClick, answer, shot, PASSWORD,
} from './browser.mjs';
import { Server } from './server.mjs';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const FAST = {
  SECURECHAT_RATE_PER_SEC: '1000', SECURECHAT_BURST: '1000',
  SECURECHAT_ACTION_RATE_PER_SEC: '100', SECURECHAT_ACTION_BURST: '200',
};
const server = new Server({ env: FAST });
// A brand-new server for the first-run and admin tests.
const fresh = new Server({ env: FAST });
let browser;

before(async () => {
  await Promise.all([server.start(), fresh.start()]);
  browser = await launch([server, fresh]);
});

after(async () => {
  if (browser) await browser.close();
  await Promise.all([server.stop(), fresh.stop()]);
});

async function openMenu(page, item) {
  if (!(await page.locator('.user-menu').evaluate((d) => d.open))) await page.locator('#me-name').click();
  await page.getByRole('button', { name: item, exact: true }).click();
}

test('profiles, grouped messages with avatars, user cards, actions on hover and focus, inline edit', async () => {
  const ana = await newUser(browser, server.url, 'ana');
  const ben = await newUser(browser, server.url, 'ben');

  // Ana sets her name, status and picture.
  await openMenu(ana, 'Profile');
  await ana.getByLabel('Display name').fill('Ana Lima');
  await ana.getByLabel('Status').fill('On call this week');
  await ana.locator('#avatar-input').setInputFiles([{ name: 'me.png', mimeType: 'image/png', buffer: PNG }]);
  await ana.locator('#profile-avatar img').waitFor();
  // Not an image: a clear error, the picture stays.
  await ana.locator('#avatar-input').setInputFiles([{ name: 'me.svg', mimeType: 'image/svg+xml', buffer: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>') }]);
  await ana.locator('#profile-error', { hasText: 'must be a PNG, JPEG, GIF or WebP' }).waitFor();
  await ana.locator('#profile-save').click();
  await ana.locator('#profile-dialog').waitFor({ state: 'hidden' });

  // Ben sees it live (a profile event), in the people list with the status.
  const inList = ben.locator('[data-user="ana"]');
  await inList.filter({ hasText: 'Ana Lima' }).waitFor();
  assert.match(await inList.textContent(), /On call this week/);
  assert.match(await inList.locator('img').getAttribute('src'), /^\/api\/users\/ana\/avatar\?v=\d+$/);

  // Three messages in a row: one header, two grouped under it.
  for (const text of ['one', 'two', 'three']) await say(ana, text);
  await waitForBody(ben, 'three');
  const mine = (t) => ben.locator('#messages li.message', { has: ben.locator('.body', { hasText: new RegExp(`^${t}$`) }) });
  assert.deepEqual(await Promise.all(['one', 'two', 'three'].map((t) => mine(t).evaluate((li) => li.classList.contains('cont')))), [false, true, true]);
  assert.equal(await mine('one').locator('.from').textContent(), 'Ana Lima');
  assert.equal(await mine('one').locator('.from').getAttribute('title'), '@ana');
  assert.match(await mine('one').locator('.gutter img').getAttribute('src'), /\/api\/users\/ana\/avatar/);
  assert.equal(await mine('two').locator('.from').count(), 0, 'grouped: no second header');

  // Actions show on hover and on keyboard focus, not otherwise.
  const last = ana.locator('#messages li.message', { hasText: 'three' });
  const opacity = () => last.locator('.actions').evaluate((a) => getComputedStyle(a).opacity);
  await ana.mouse.move(5, 5);
  assert.equal(await opacity(), '0');
  await last.hover();
  assert.equal(await opacity(), '1');
  await ana.mouse.move(5, 5);
  await last.getByRole('button', { name: 'Edit message' }).focus();
  assert.equal(await opacity(), '1');

  // The user card, and a DM from it.
  await mine('one').locator('.from').click();
  await ben.locator('#user-card[open]').waitFor();
  assert.equal(await ben.locator('#card-name').textContent(), 'Ana Lima');
  assert.equal(await ben.locator('#card-username').textContent(), '@ana · admin');
  assert.equal(await ben.locator('#card-status').textContent(), 'On call this week');
  assert.equal(await ben.locator('#card-presence').textContent(), 'Online now');
  await ben.locator('#card-message').click();
  await ben.locator('#room-name', { hasText: '@Ana Lima' }).waitFor();
  await ben.locator('#messages .intro', { hasText: 'No messages yet' }).waitFor();
  await ben.locator('#room-list button', { hasText: 'general' }).click();

  // An impostor's display name: both are shown with their usernames.
  await ben.evaluate(() => fetch('/api/me', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ display_name: 'ana lima' }) }));
  await mine('one').locator('.from', { hasText: 'Ana Lima (@ana)' }).waitFor();
  await ben.evaluate(() => fetch('/api/me', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ display_name: '' }) }));
  await mine('one').locator('.from', { hasText: /^Ana Lima$/ }).waitFor();

  // ↑ in the empty box edits the last message in place; Shift+Enter is a
  // new line, Enter saves.
  await composer(ana).focus();
  await composer(ana).press('ArrowUp');
  const editor = ana.getByRole('textbox', { name: 'Edit message' });
  await editor.waitFor();
  assert.equal(await editor.inputValue(), 'three');
  await editor.press('End');
  await editor.press('Shift+Enter');
  await ana.keyboard.type('and four');
  await editor.press('Enter');
  await waitForBody(ben, 'and four');
  assert.equal(await mine('three\nand four').locator('.body').textContent(), 'three\nand four');
  await mine('three\nand four').locator('.state', { hasText: '(edited)' }).waitFor();

  // Deleting asks in the page first; "Cancel" keeps the message.
  await hoverClick(ana.locator('#messages li.message', { hasText: 'two' }), 'Delete message');
  await ana.locator('#ask-dialog[open]').waitFor();
  await ana.locator('#ask-cancel').click();
  assert.equal(await ana.locator('#messages li.deleted').count(), 0);
  for (const p of [ana, ben]) await p.context().close();
});

test('the "new messages" line, jump to latest, and unread rooms in bold', async () => {
  const cleo = await newUser(browser, server.url, 'cleo');
  const dov = await newUser(browser, server.url, 'dov');
  await dov.getByRole('button', { name: 'Create room' }).click();
  await dov.getByLabel('Name', { exact: true }).fill('side');
  await dov.getByRole('button', { name: 'Create', exact: true }).click();
  await dov.locator('#room-name', { hasText: '#side' }).waitFor();

  await sendMany(cleo, 'news', 40);
  const general = dov.locator('#room-list button', { hasText: 'general' });
  await general.locator('.badge', { hasText: '40' }).waitFor();
  assert.equal(await general.evaluate((b) => getComputedStyle(b).fontWeight), '700');
  assert.match(await general.textContent(), /, 40 unread/, 'said to screen readers');

  await general.click();
  const line = dov.locator('#unread-line');
  await line.waitFor();
  assert.equal(await line.textContent(), 'New messages');
  assert.equal(await dov.evaluate(() => document.querySelector('#unread-line + li .body').textContent), 'news 1');
  // The line is on screen, near the top.
  const [lineBox, listBox] = [await line.boundingBox(), await dov.locator('#messages').boundingBox()];
  assert.ok(lineBox.y >= listBox.y && lineBox.y < listBox.y + listBox.height / 2, `line at ${lineBox.y}`);
  assert.equal(await general.evaluate((b) => b.classList.contains('unread')), false);

  // Scrolled up, a new message is counted on the jump button.
  await dov.locator('#messages').evaluate((l) => { l.scrollTop = 0; });
  const jump = dov.locator('#jump-button');
  await jump.waitFor();
  await say(cleo, 'fresh one');
  await jump.filter({ hasText: '1 new message — jump to latest' }).waitFor();
  await jump.click();
  await jump.waitFor({ state: 'hidden' });
  assert.ok(await dov.locator('#messages').evaluate((l) => l.scrollHeight - l.scrollTop - l.clientHeight < 40));
  for (const p of [cleo, dov]) await p.context().close();
});

test('files as cards, images in a viewer, and uploaded SVG or HTML never inline', async () => {
  const eve = await newUser(browser, server.url, 'eve');
  const fay = await newUser(browser, server.url, 'fayette');
  await eve.locator('#file-input').setInputFiles([
    { name: 'dot.png', mimeType: 'image/png', buffer: PNG },
    { name: 'logo.svg', mimeType: 'image/svg+xml', buffer: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>') },
    { name: 'page.html', mimeType: 'text/html', buffer: Buffer.from('<script>alert(1)</script>') },
  ]);
  const card = (name) => fay.locator('#messages li.message', { has: fay.locator('.file-link', { hasText: name }) });
  await card('page.html').waitFor();
  assert.equal(await card('page.html').locator('.size').textContent(), 'Text · 25 B');
  assert.equal(await card('page.html').locator('.file-kind').textContent(), 'HTML');
  assert.equal(await card('logo.svg').locator('img').count(), 0, 'an SVG is never shown');
  await card('dot.png').locator('.file-kind', { hasText: 'PNG' }).waitFor();

  // The image opens in the viewer; Esc closes it.
  await fay.getByRole('button', { name: 'Open image dot.png' }).click();
  await fay.locator('#viewer[open]').waitFor();
  await fay.waitForFunction(() => document.getElementById('viewer-image').naturalWidth === 1);
  assert.equal(await fay.locator('#viewer-name').textContent(), 'dot.png');
  assert.match(await fay.locator('#viewer-download').getAttribute('href'), /^\/api\/files\/\d+$/);
  await fay.keyboard.press('Escape');
  await fay.locator('#viewer').waitFor({ state: 'hidden' });

  // Asked for inline, the SVG and HTML still come as attachments.
  const served = await fay.evaluate(async () => {
    const out = {};
    for (const a of document.querySelectorAll('#messages .file-link')) {
      if (!['logo.svg', 'page.html'].includes(a.textContent)) continue;
      const res = await fetch(`${a.getAttribute('href')}?inline=true`);
      out[a.textContent] = [res.headers.get('content-type'), res.headers.get('content-disposition').split(';')[0]];
    }
    return out;
  });
  assert.deepEqual(served, {
    'logo.svg': ['application/octet-stream', 'attachment'],
    'page.html': ['application/octet-stream', 'attachment'],
  });

  // User text is text: markup stays text, only http(s) becomes a link.
  await say(eve, '<b>bold?</b> javascript:alert(1) [x](javascript:alert(2)) https://example.com/ok');
  await waitForBody(fay, 'bold?');
  const made = await fay.evaluate(() => ({
    b: document.querySelectorAll('#messages b').length,
    links: [...document.querySelectorAll('#messages .body a')].map((a) => a.getAttribute('href')),
  }));
  assert.deepEqual(made, { b: 0, links: ['https://example.com/ok'] });
  for (const p of [eve, fay]) await p.context().close();
});

test('first run: the admin of a new server is guided, a newcomer finds rooms, an empty room says so', async () => {
  const gil = await newUser(browser, fresh.url, 'gil');
  const setup = gil.locator('#messages .intro section', { hasText: 'Set up your server' });
  await setup.waitFor();
  assert.match(await setup.textContent(), /Registration is open/);
  await gil.locator('#messages .intro').getByRole('button', { name: 'Create a room' }).click();
  await gil.getByLabel('Name', { exact: true }).fill('design');
  await gil.getByLabel('Topic').fill('Pixels and words');
  await gil.getByRole('button', { name: 'Create', exact: true }).click();
  await gil.locator('#room-name', { hasText: '#design' }).waitFor();
  await gil.locator('#messages .intro', { hasText: 'No messages yet. Say hello!' }).waitFor();

  const hal = await newUser(browser, fresh.url, 'hal');
  const started = hal.locator('#messages .intro', { hasText: 'Get started' });
  await started.waitFor();
  assert.equal(await hal.locator('#messages .intro section').count(), 0, 'setup is for the admin');
  await started.locator('[data-join="design"]').click();
  await hal.locator('#room-name', { hasText: '#design' }).waitFor();
  // Two users now: the admin's setup steps are done.
  await gil.reload();
  await gil.locator('#conn-status.connected').waitFor();
  await gil.locator('#messages .intro').waitFor();
  assert.equal(await gil.locator('#messages .intro section').count(), 0);
  for (const p of [gil, hal]) await p.context().close();
});

test('admin pages: stats, users (add, search, roles, disable, password), invites, registration', async () => {
  // gil is the first user of `fresh` (the test above), so its admin.
  const gil = await openPage(browser, fresh.url);
  await signIn(gil, 'gil', 'Log in');
  await gil.locator('#conn-status.connected').waitFor();
  const hal = await openPage(browser, fresh.url);
  await signIn(hal, 'hal', 'Log in');
  await hal.locator('#conn-status.connected').waitFor();
  assert.equal(await hal.locator('#admin-button').isHidden(), true, 'not for members');

  await openMenu(gil, 'Administration');
  await gil.locator('#room-name', { hasText: 'Administration' }).waitFor();
  const stat = (name) => gil.locator('#admin-stats div', { has: gil.locator('dt', { hasText: new RegExp(`^${name}$`) }) }).locator('dd');
  await stat('Users').filter({ hasText: '2' }).waitFor();

  // Add a user.
  await gil.locator('#add-user-button').click();
  await answer(gil, 'ivy');
  await answer(gil, 'ivy password 1');
  const row = (name) => gil.locator(`tr[data-admin-user="${name}"]`);
  await row('ivy').waitFor();
  await stat('Users').filter({ hasText: '3' }).waitFor();
  // Search.
  await gil.getByLabel('Search users').fill('iv');
  assert.equal(await gil.locator('tr[data-admin-user]').count(), 1);
  await gil.getByLabel('Search users').fill('');

  // Roles.
  await row('ivy').getByRole('button', { name: 'Make admin ivy' }).click();
  await answer(gil);
  await row('ivy').locator('td', { hasText: /^admin$/ }).waitFor();
  await row('ivy').getByRole('button', { name: 'Remove admin from ivy' }).click();
  await answer(gil);
  await row('ivy').locator('td', { hasText: /^member$/ }).waitFor();
  // The last admin cannot step down: a clear error.
  await row('gil').getByRole('button', { name: 'Remove admin from gil' }).click();
  await answer(gil);
  await gil.locator('#admin-view .error', { hasText: 'last admin' }).waitFor();

  // Disable: hal is logged out at once; enable; a new password.
  await row('hal').getByRole('button', { name: 'Disable hal' }).click();
  await answer(gil);
  await hal.locator('#login-view').waitFor();
  await row('hal').locator('td', { hasText: /^disabled$/ }).waitFor();
  await row('hal').getByRole('button', { name: 'Enable hal' }).click();
  await row('hal').getByRole('button', { name: 'Disable hal' }).waitFor();
  await row('hal').getByRole('button', { name: 'Set password for hal' }).click();
  await answer(gil, 'set by the admin');
  await signIn(hal, 'hal', 'Log in', PASSWORD);
  await hal.locator('#login-error', { hasText: 'Wrong username or password' }).waitFor();
  await signIn(hal, 'hal', 'Log in', 'set by the admin');
  await hal.locator('#conn-status.connected').waitFor();

  // A reset link instead: made here, opened by hal in a new page; his
  // open session ends when the password changes.
  await row('hal').getByRole('button', { name: 'Make a password reset link for hal' }).click();
  await gil.locator('#ask-dialog[open] #ask-input').waitFor();
  const link = await gil.locator('#ask-input').inputValue();
  assert.match(link, /^https:\/\/[^/]+\/#reset=[A-Za-z0-9_-]{43}$/);
  await gil.locator('#ask-cancel').click();
  const reset = await openPage(browser, link);
  await reset.locator('#reset-form').waitFor();
  assert.equal(await reset.locator('#login-form').isHidden(), true);
  await reset.locator('#reset-form').getByLabel('New password').fill('chosen with the link');
  await reset.locator('#reset-form').getByLabel('The same again').fill('chosen with the link?');
  await reset.getByRole('button', { name: 'Set password' }).click();
  await reset.locator('#reset-error', { hasText: 'differ' }).waitFor();
  await reset.locator('#reset-form').getByLabel('The same again').fill('chosen with the link');
  await reset.getByRole('button', { name: 'Set password' }).click();
  await reset.locator('#login-note', { hasText: 'password is changed' }).waitFor();
  assert.equal(await reset.locator('#login-username').inputValue(), 'hal');
  assert.equal(new URL(reset.url()).hash, '', 'the token leaves the address bar');
  await hal.locator('#login-view').waitFor();
  await reset.locator('#login-password').fill('chosen with the link');
  await reset.getByRole('button', { name: 'Log in' }).click();
  await reset.locator('#conn-status.connected').waitFor();
  // The link worked once.
  const again = await openPage(browser, link);
  await again.locator('#reset-form').getByLabel('New password').fill('another one entirely');
  await again.locator('#reset-form').getByLabel('The same again').fill('another one entirely');
  await again.getByRole('button', { name: 'Set password' }).click();
  await again.locator('#reset-error', { hasText: 'ask an admin for a new one' }).waitFor();
  await again.screenshot({ path: shot('reset-used.png') });
  for (const p of [reset, again]) await p.close();
  await signIn(hal, 'hal', 'Log in', 'chosen with the link');
  await hal.locator('#conn-status.connected').waitFor();

  // Archiving and deleting a room: only admins see the buttons; its
  // members see the room turn read-only, open again, then go.
  const made = await hal.evaluate(async () => {
    const res = await fetch('/api/rooms', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'doomed', kind: 'public' }) });
    return (await res.json()).room.id;
  });
  await gil.evaluate(async (id) => { await fetch(`/api/rooms/${id}/join`, { method: 'POST' }); }, made);
  await hal.locator('#room-list button', { hasText: 'doomed' }).click();
  assert.equal(await hal.locator('#delete-room-button').isHidden(), true, 'not for members');
  await gil.locator('#room-list button', { hasText: 'doomed' }).click();
  // Archived first: read-only for hal at once, then open again.
  await gil.locator('#archive-button', { hasText: 'Archive' }).click();
  await answer(gil);
  await hal.locator('#archived-note').waitFor();
  assert.equal(await hal.locator('#composer').isHidden(), true, 'no composer in an archived room');
  await hal.screenshot({ path: shot('archived.png') });
  await gil.locator('#archive-button', { hasText: 'Unarchive' }).click();
  await hal.locator('#composer').waitFor();
  await say(hal, 'still here before the end');
  await waitForBody(gil, 'still here before the end');
  await gil.locator('#delete-room-button').click();
  await answer(gil);
  for (const p of [gil, hal]) {
    await p.locator('#room-list button', { hasText: 'doomed' }).waitFor({ state: 'detached' });
    await p.locator('#room-name', { hasText: 'doomed' }).waitFor({ state: 'detached' });
  }
  await openMenu(gil, 'Administration');
  await gil.locator('#room-name', { hasText: 'Administration' }).waitFor();

  // Invites, with registration by invite only.
  await gil.getByLabel('Who can make an account').selectOption('invite');
  await gil.locator('#admin-settings .hint', { hasText: 'Saved.' }).waitFor();
  await gil.locator('#create-invite-button').click();
  const code = (await gil.locator('#invite-code').textContent()).trim();
  assert.equal(code.length, 43);
  await gil.locator('#admin-invites tbody tr', { hasText: 'unused' }).waitFor();
  const jo = await openPage(browser, fresh.url);
  await signIn(jo, 'joy');
  await jo.locator('#login-error', { hasText: 'invite code' }).waitFor();
  await jo.getByLabel('Invite code (if you have one)').fill(code);
  await jo.getByRole('button', { name: 'Register' }).click();
  await jo.locator('#conn-status.connected').waitFor({ timeout: 5000 }).catch(async (e) => {
    throw new Error(`${e.message}: ${await jo.locator('#login-error').textContent()}`);
  });
  await gil.locator('#admin-refresh').click();
  await gil.locator('#admin-invites tbody tr', { hasText: 'used by joy' }).waitFor();
  // A revoked code no longer works.
  await gil.locator('#create-invite-button').click();
  await gil.waitForFunction((old) => document.getElementById('invite-code').textContent !== old, code);
  const second = (await gil.locator('#invite-code').textContent()).trim();
  assert.notEqual(second, code);
  await gil.locator('#admin-invites tbody tr', { hasText: 'unused' }).first().getByRole('button', { name: /^Revoke/ }).click();
  await answer(gil);
  await gil.locator('#admin-invites tbody tr', { hasText: 'revoked' }).waitFor();
  const kai = await openPage(browser, fresh.url);
  await kai.locator('#login-form').getByLabel('Username').fill('kai');
  await kai.locator('#login-form').getByLabel('Password').fill(PASSWORD);
  await kai.evaluate(() => document.getElementById('login-view').classList.add('invite'));
  await kai.getByLabel('Invite code (if you have one)').fill(second);
  await kai.getByRole('button', { name: 'Register' }).click();
  await kai.locator('#login-error', { hasText: 'invalid, used or expired' }).waitFor();
  // Closed: nobody registers.
  await gil.getByLabel('Who can make an account').selectOption('closed');
  await gil.locator('#admin-settings .hint', { hasText: 'Saved.' }).waitFor();
  await kai.getByRole('button', { name: 'Register' }).click();
  await kai.locator('#login-error', { hasText: 'registration is closed' }).waitFor();
  // Back to the chat.
  await gil.getByRole('button', { name: 'Back to chat' }).click();
  await gil.locator('#room-name', { hasText: '#general' }).waitFor();
  for (const p of [gil, hal, jo, kai]) await p.context().close();
});

test('dark mode follows the system, and a choice is kept per user', async () => {
  const lia = await newUser(browser, server.url, 'lia');
  const bg = () => lia.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const LIGHT = 'rgb(244, 245, 247)';
  const DARK = 'rgb(17, 20, 24)';
  assert.equal(await bg(), LIGHT);
  await lia.emulateMedia({ colorScheme: 'dark' });
  assert.equal(await bg(), DARK);
  await lia.locator('#me-name').click();
  await lia.getByLabel('Theme').selectOption('light');
  assert.equal(await bg(), LIGHT, 'the choice wins over the system');
  await lia.reload();
  await lia.locator('#conn-status.connected').waitFor();
  assert.equal(await bg(), LIGHT, 'kept across reloads');
  await lia.locator('#me-name').click();
  await lia.getByLabel('Theme').selectOption('dark');
  await lia.emulateMedia({ colorScheme: 'light' });
  assert.equal(await bg(), DARK);
  // Another user in the same browser has their own choice.
  await openMenu(lia, 'Log out');
  await lia.locator('#login-view').waitFor();
  await signIn(lia, 'mia');
  await lia.locator('#conn-status.connected').waitFor();
  assert.equal(await bg(), LIGHT);
  await lia.context().close();
});

test('the app opens offline from its service worker and sends what was queued, once', async () => {
  const lea = await newUser(browser, server.url, 'lea');
  const max = await newUser(browser, server.url, 'maxim');
  await lea.waitForFunction(async () => {
    const reg = await navigator.serviceWorker.ready;
    return Boolean(reg.active && navigator.serviceWorker.controller);
  }, null, { timeout: 10000 });
  // Installable: Chromium finds nothing missing (but that a test browser's
  // profile is a private one), and the manifest parses without errors.
  const cdp = await lea.context().newCDPSession(lea);
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  assert.deepEqual(installabilityErrors.map((e) => e.errorId).filter((id) => id !== 'in-incognito'), []);
  assert.deepEqual((await cdp.send('Page.getAppManifest')).errors, []);
  await lea.context().setOffline(true);
  await lea.reload();
  await lea.locator('#app-view').waitFor();
  await lea.locator('#conn-status.offline, #conn-status.reconnecting').first().waitFor();
  await say(lea, 'written while offline');
  const queued = lea.locator('#messages li.pending.queued');
  await queued.waitFor();
  assert.match(await queued.locator('.state').textContent(), /waiting for the connection/);
  // Still there after another reload without a network.
  await lea.reload();
  await lea.locator('#messages li.pending.queued', { hasText: 'written while offline' }).waitFor();
  await lea.screenshot({ path: shot('offline.png') });
  await lea.context().setOffline(false);
  await lea.locator('#conn-status.connected').waitFor({ timeout: 40000 });
  await waitForBody(max, 'written while offline');
  await lea.locator('#messages li.pending').waitFor({ state: 'detached' });
  const count = await max.evaluate(async () => {
    const general = document.querySelector('#room-list button[data-room]').dataset.room;
    const page = await (await fetch(`/api/rooms/${general}/events?limit=100`)).json();
    return page.events.filter((e) => e.body === 'written while offline').length;
  });
  assert.equal(count, 1);
  for (const p of [lea, max]) await p.context().close();
});

test('search finds messages in your rooms and opens the room at the one clicked', async () => {
  const sol = await newUser(browser, server.url, 'sol');
  const tim = await newUser(browser, server.url, 'tim');
  await say(sol, 'the needle is in the haystack');
  await waitForBody(tim, 'the needle is in the haystack');
  await sendMany(sol, 'filler', 250);
  await waitForBody(tim, 'filler 250', 90_000);

  await tim.getByRole('searchbox', { name: 'Search messages' }).fill('needle from:sol');
  await tim.getByRole('searchbox', { name: 'Search messages' }).press('Enter');
  const hit = tim.locator('#search-results button').first();
  await hit.waitFor();
  assert.equal(await tim.locator('#search-results mark').first().textContent(), 'needle');
  assert.match(await hit.textContent(), /sol#general/);
  assert.equal(await tim.locator('#search-status').textContent(), '1 message found');
  // The message is 250 back: the room opens there, with it marked.
  await hit.click();
  await tim.locator('#room-name', { hasText: '#general' }).waitFor();
  const found = tim.locator('#messages li.message.found');
  await found.waitFor();
  assert.match(await found.textContent(), /the needle is in the haystack/);
  const [box, list] = [await found.boundingBox(), await tim.locator('#messages').boundingBox()];
  assert.ok(box.y >= list.y && box.y + box.height <= list.y + list.height, 'on screen');

  // Nothing found, a bad filter, and markup in a query: all said as text.
  for (const [q, said] of [
    ['zzzzqqq', /^Nothing found/],
    ['before:someday', /needs a date/],
    ['<b>qqzzxy</b>', /^Nothing found/],
  ]) {
    await tim.getByRole('searchbox', { name: 'Search messages' }).fill(q);
    await tim.getByRole('searchbox', { name: 'Search messages' }).press('Enter');
    await tim.locator('#search-status', { hasText: said }).waitFor();
  }
  assert.equal(await tim.locator('#search-view b').count(), 0);
  await tim.getByRole('button', { name: 'Back to chat' }).click();
  await tim.locator('#room-name', { hasText: '#general' }).waitFor();
  for (const p of [sol, tim]) await p.context().close();
});
