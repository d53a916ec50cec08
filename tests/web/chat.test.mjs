// End-to-end: two users in two browser contexts of real headless Chromium
// against the real server binary over TLS.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, newUser as helperNewUser, say, bodies, waitForBody, PASSWORD } from './browser.mjs';
import { Server } from './server.mjs';

// Screenshots go to docs/screenshots with UPDATE_SCREENSHOTS=1 (they are
// committed and shown in the README), to a temp folder otherwise.
const shots = process.env.UPDATE_SCREENSHOTS
  ? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/screenshots')
  : mkdtempSync(path.join(tmpdir(), 'securechat-shots-'));
const server = new Server();
let browser;

before(async () => {
  await server.start();
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  await server.stop();
});

const newUser = (name, viewport) => helperNewUser(browser, server.url, name, viewport);

test('two users chat, survive a server crash, and nothing is lost or doubled', async () => {
  // The login screen, with its errors.
  const probe = await browser.newContext({ ignoreHTTPSErrors: true });
  const login = await probe.newPage();
  const res = await login.goto(server.url);
  const csp = res.headers()['content-security-policy'];
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /connect-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(res.headers()['x-content-type-options'], 'nosniff');
  await login.locator('#login-form').getByLabel('Username').fill('nobody');
  await login.locator('#login-form').getByLabel('Password').fill('wrong password');
  await login.getByRole('button', { name: 'Log in' }).click();
  await login.getByText('Wrong username or password.').waitFor();
  await login.screenshot({ path: path.join(shots, 'login.png') });

  const alice = await newUser('alice');
  const bob = await newUser('bob');
  await login.locator('#login-form').getByLabel('Username').fill('alice');
  await login.locator('#login-form').getByLabel('Password').fill(PASSWORD);
  await login.getByRole('button', { name: 'Register' }).click();
  await login.getByText('That username is taken.').waitFor();
  await probe.close();

  // Presence: each sees the other online.
  await alice.locator('[data-user="bob"] .dot.online').waitFor();
  await bob.locator('[data-user="alice"] .dot.online').waitFor();

  // Chat both ways in general.
  await say(alice, 'hello bob');
  await waitForBody(bob, 'hello bob');
  await say(bob, 'hi alice');
  await waitForBody(alice, 'hi alice');

  // Hostile text is shown as text; only http(s) links are links.
  await say(alice, '<img src=x onerror=alert(1)> javascript:alert(2) https://example.com/x');
  await waitForBody(bob, '<img src=x onerror=alert(1)>');
  assert.equal(await bob.locator('#messages img').count(), 0);
  const link = bob.locator('#messages a', { hasText: 'https://example.com/x' });
  assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
  assert.equal(await bob.locator('#messages a[href^="javascript"]').count(), 0);

  // Unread counts: bob moves to a new room; alice talks in general.
  await bob.getByRole('button', { name: 'Create room' }).click();
  await bob.getByLabel('Name', { exact: true }).fill('dev');
  // A topic is user text too: shown as text, never as markup.
  const topic = 'Builds & <b>deploys</b> <img src=x onerror=alert(3)>';
  await bob.getByLabel('Topic').fill(topic);
  await bob.getByRole('button', { name: 'Create', exact: true }).click();
  await bob.locator('#room-name', { hasText: '#dev' }).waitFor();
  assert.equal(await bob.locator('#room-topic').textContent(), topic);
  assert.equal(await bob.locator('#room-topic *').count(), 0, 'no elements made from the topic');
  await say(alice, 'are you there?');
  await say(alice, 'bob?');
  await bob.locator('#room-list button', { hasText: 'general' }).locator('.badge', { hasText: '2' }).waitFor();
  await bob.locator('#room-list button', { hasText: 'general' }).click();
  await waitForBody(bob, 'bob?');
  await bob.locator('#room-list .badge').waitFor({ state: 'detached' });

  // A direct message from the people list.
  await alice.getByRole('button', { name: /Message bob/ }).click();
  await alice.locator('#room-name', { hasText: '@bob' }).waitFor();
  await say(alice, 'psst, just you');
  await bob.locator('#dm-list button', { hasText: 'alice' }).locator('.badge').waitFor();
  await bob.locator('#dm-list button', { hasText: 'alice' }).click();
  await waitForBody(bob, 'psst, just you');

  // A private room with bob in it: he sees it at once.
  await alice.getByRole('button', { name: 'Create room' }).click();
  await alice.getByLabel('Name', { exact: true }).fill('secret');
  await alice.getByLabel('Kind').selectOption('private');
  await alice.getByLabel('Members (comma-separated usernames)').fill('bob');
  await alice.getByRole('button', { name: 'Create', exact: true }).click();
  await bob.locator('#room-list button', { hasText: 'secret' }).waitFor();

  // Back to general for the crash.
  await alice.locator('#room-list button', { hasText: 'general' }).click();
  await bob.locator('#room-list button', { hasText: 'general' }).click();
  await waitForBody(alice, 'bob?');

  // The server crashes mid-conversation; alice keeps typing.
  await server.kill();
  await alice.locator('#conn-status.reconnecting').waitFor();
  await say(alice, 'typed while the server was down 1');
  await say(alice, 'typed while the server was down 2');
  await alice.locator('#messages li.pending', { hasText: 'down 2' }).waitFor();
  // A file sent during the outage waits too, instead of failing.
  await alice.locator('#file-input').setInputFiles([
    { name: 'outage.txt', mimeType: 'text/plain', buffer: Buffer.from('sent while the server was down') },
  ]);
  await alice.locator('#uploads li[data-waiting="1"]', { hasText: 'waiting for the connection' }).waitFor();
  await alice.screenshot({ path: path.join(shots, 'reconnecting.png') });
  await server.start();
  await alice.locator('#conn-status.connected').waitFor({ timeout: 40000 });
  await bob.locator('#conn-status.connected').waitFor({ timeout: 40000 });
  await waitForBody(bob, 'down 2');
  // …and goes out once the server is back: one message with the file.
  await bob.locator('#messages .file-link', { hasText: 'outage.txt' }).waitFor({ timeout: 30000 });
  await alice.locator('#uploads li').waitFor({ state: 'detached' });
  assert.equal(await bob.locator('#messages .file-link', { hasText: 'outage.txt' }).count(), 1);
  await alice.locator('#messages li.pending').waitFor({ state: 'detached' });
  const seen = await bodies(bob);
  assert.equal(seen.filter((b) => b.includes('down 1')).length, 1, 'exactly once');
  assert.equal(seen.filter((b) => b.includes('down 2')).length, 1, 'exactly once');
  assert.ok(seen.indexOf('typed while the server was down 1') < seen.indexOf('typed while the server was down 2'));

  // A flood is rate limited, shown as waiting, then delivered in full.
  // Thirty Enter presses through the composer's own key handler, as fast
  // as the page can take them: far more than the burst of 10.
  await alice.evaluate(() => {
    const input = document.getElementById('message-input');
    for (let i = 1; i <= 30; i++) {
      input.value = `flood ${i}`;
      input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    }
  });
  await alice.locator('#messages li.pending.waiting').first().waitFor();
  await waitForBody(bob, 'flood 30');
  const after = await bodies(bob);
  const flood = after.filter((b) => b.startsWith('flood '));
  assert.deepEqual(flood, Array.from({ length: 30 }, (_, i) => `flood ${i + 1}`), 'all, once, in order');
  await alice.locator('#messages li.pending').waitFor({ state: 'detached' });

  // Typing indicator.
  await bob.getByRole('textbox', { name: 'Message' }).pressSequentially('typing…');
  await alice.getByText('bob is typing…').waitFor();

  await bob.context().close();
  await alice.context().close();
});

test('works on a phone-sized screen with the keyboard only', async () => {
  const phone = await newUser('carol', { width: 390, height: 780 });
  await phone.getByRole('textbox', { name: 'Message' }).fill('from my phone');
  await phone.keyboard.press('Enter');
  await waitForBody(phone, 'from my phone');
  // Shift+Enter is a new line, not a send.
  await phone.getByRole('textbox', { name: 'Message' }).fill('line one');
  await phone.getByRole('textbox', { name: 'Message' }).press('Shift+Enter');
  await phone.keyboard.type('line two');
  await phone.keyboard.press('Enter');
  await waitForBody(phone, 'line two');
  const last = (await bodies(phone)).pop();
  assert.equal(last, 'line one\nline two');
  // The room list opens from the menu button, reachable by keyboard.
  await phone.getByRole('button', { name: 'Show rooms' }).focus();
  await phone.keyboard.press('Enter');
  await phone.locator('#sidebar.open').waitFor();
  await phone.context().close();
});
