// End-to-end: the rest of what a user does in the browser — sessions
// across reloads, rooms, invites, edits, history, passwords, login errors.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, signIn, newUser, composer, say, sendMany, bodies, waitForBody, PASSWORD } from './browser.mjs';
import { Server } from './server.mjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Screenshots go to docs/screenshots with UPDATE_SCREENSHOTS=1.
const shots = () => (process.env.UPDATE_SCREENSHOTS
  ? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/screenshots')
  : mkdtempSync(path.join(tmpdir(), 'securechat-shots-')));

// Generous limits so that filling history is quick; few free login tries.
const server = new Server({
  env: { SECURECHAT_RATE_PER_SEC: '1000', SECURECHAT_BURST: '1000', SECURECHAT_LOGIN_ATTEMPTS_PER_ACCOUNT: '2' },
});
const closed = new Server({ args: ['--registration', 'closed'] });
let browser;

before(async () => {
  await Promise.all([server.start(), closed.start()]);
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  await Promise.all([server.stop(), closed.stop()]);
});

test('rooms, invites, edits, history and the session lifecycle', async () => {
  const dana = await newUser(browser, server.url, 'dana');
  const eli = await newUser(browser, server.url, 'eli');

  // The session survives a reload.
  await dana.reload();
  await dana.locator('#conn-status.connected').waitFor();
  assert.equal(await dana.locator('#me-name').textContent(), 'dana');

  // Dana makes a public room; Eli finds it in the browser and joins.
  await dana.getByRole('button', { name: 'Create room' }).click();
  await dana.getByLabel('Name', { exact: true }).fill('ops');
  await dana.getByRole('button', { name: 'Create', exact: true }).click();
  await dana.locator('#room-name', { hasText: '#ops' }).waitFor();
  await eli.getByRole('button', { name: 'Browse public rooms' }).click();
  await eli.locator('[data-public="ops"]').click();
  await eli.locator('#room-name', { hasText: '#ops' }).waitFor();
  await dana.locator('#messages .notice', { hasText: 'eli joined' }).waitFor();

  // Edit and delete her own message; Eli sees both at once.
  await say(dana, 'first draft');
  await waitForBody(eli, 'first draft');
  // Edited in place: Enter saves, Esc cancels.
  const draft = dana.locator('#messages li.message', { hasText: 'first draft' });
  await draft.hover();
  await draft.getByRole('button', { name: 'Edit message' }).click();
  const editor = dana.getByRole('textbox', { name: 'Edit message' });
  await editor.fill('not this');
  await editor.press('Escape');
  await editor.waitFor({ state: 'detached' });
  assert.equal(await draft.locator('.body').textContent(), 'first draft');
  await draft.hover();
  await draft.getByRole('button', { name: 'Edit message' }).click();
  await editor.fill('edited by dana');
  await editor.press('Enter');
  await waitForBody(eli, 'edited by dana');
  assert.equal(await eli.locator('#messages li.message', { hasText: 'edited by dana' }).locator('.state', { hasText: '(edited)' }).count(), 1);
  await dana.locator('#messages li.message', { hasText: 'edited by dana' }).hover();
  await dana.locator('#messages li.message', { hasText: 'edited by dana' }).getByRole('button', { name: 'Delete message' }).click();
  // An in-page dialog asks first.
  await dana.locator('#ask-dialog[open]').waitFor();
  await dana.locator('#ask-ok', { hasText: 'Delete' }).click();
  await eli.locator('#messages li.deleted', { hasText: 'message deleted' }).waitFor();
  // Eli cannot edit Dana's messages: no such button.
  assert.equal(await eli.locator('#messages li.message').getByRole('button', { name: 'Edit message' }).count(), 0);

  // Eli leaves; Dana sees the notice; the room disappears from his list.
  await eli.getByRole('button', { name: 'Leave' }).click();
  await eli.locator('#ask-ok', { hasText: 'Leave' }).click();
  await dana.locator('#messages .notice', { hasText: 'eli left' }).waitFor();
  await eli.locator('#room-list button', { hasText: 'ops' }).waitFor({ state: 'detached' });

  // Dana invites him back into a private room.
  await dana.getByRole('button', { name: 'Create room' }).click();
  await dana.getByLabel('Name', { exact: true }).fill('core');
  await dana.getByLabel('Kind').selectOption('private');
  await dana.getByRole('button', { name: 'Create', exact: true }).click();
  await dana.locator('#room-name', { hasText: '#core' }).waitFor();
  await dana.getByRole('button', { name: 'Invite' }).click();
  await dana.locator('#invite-dialog').getByLabel('Username').fill('nobody');
  await dana.getByRole('button', { name: 'Invite', exact: true }).last().click();
  await dana.locator('#invite-error', { hasText: 'no such user' }).waitFor();
  await dana.locator('#invite-dialog').getByLabel('Username').fill('eli');
  await dana.locator('#invite-confirm').click();
  await eli.locator('#room-list button', { hasText: 'core' }).waitFor();

  // History: 120 messages; the newest 50 load first, older ones on scroll.
  await dana.locator('#room-list button', { hasText: 'general' }).click();
  await sendMany(dana, 'history', 120);
  await waitForBody(dana, 'history 120');
  const late = await newUser(browser, server.url, 'fay');
  await waitForBody(late, 'history 120');
  assert.ok(!(await bodies(late)).includes('history 1'), 'old pages are not loaded up front');
  for (let i = 0; i < 10 && !(await bodies(late)).includes('history 1'); i++) {
    await late.locator('#messages').evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); });
    await late.waitForTimeout(300);
  }
  const all = (await bodies(late)).filter((b) => b.startsWith('history '));
  assert.deepEqual(all, Array.from({ length: 120 }, (_, i) => `history ${i + 1}`));

  // Change password, log out, log in with the new one.
  await eli.locator('#me-name').click();
  await eli.getByRole('button', { name: 'Change password' }).click();
  await eli.getByLabel('Current password').fill('not it');
  await eli.getByLabel('New password', { exact: true }).fill('a brand new password');
  await eli.locator('#password-save').click();
  await eli.locator('#password-error', { hasText: 'old password is wrong' }).waitFor();
  await eli.getByLabel('Current password').fill(PASSWORD);
  await eli.locator('#password-save').click();
  await eli.locator('#password-dialog').waitFor({ state: 'hidden' });
  await eli.locator('#me-name').click();
  await eli.getByRole('button', { name: 'Log out' }).click();
  await eli.locator('#login-view').waitFor();
  await signIn(eli, 'eli', 'Log in', PASSWORD);
  await eli.getByText('Wrong username or password.').waitFor();
  await signIn(eli, 'eli', 'Log in', 'a brand new password');
  await eli.locator('#conn-status.connected').waitFor();

  // Too many wrong passwords: two are free, the third starts a delay, and
  // attempts during the delay are told how long to wait.
  const p = await openPage(browser, server.url);
  await p.locator('#login-form').getByLabel('Username').fill('fay');
  await p.locator('#login-form').getByLabel('Password').fill('wrong password');
  let text = '';
  for (let i = 0; i < 6 && !text.startsWith('Too many'); i++) {
    const answered = p.waitForResponse((r) => r.url().endsWith('/api/login'));
    await p.getByRole('button', { name: 'Log in' }).click();
    await answered;
    await p.waitForTimeout(50);
    text = await p.locator('#login-error').textContent();
  }
  // "1 second", "2 seconds": the number and the word agree.
  assert.match(text, /^Too many attempts\. Try again in (1 second|([2-9]|\d\d+) seconds)\.$/);
  await p.context().close();
  for (const p of [dana, eli, late]) await p.context().close();
});

test('a closed server says so, and offers the invite field', async () => {
  const page = await openPage(browser, closed.url);
  await signIn(page, 'gus');
  await page.locator('#login-error', { hasText: 'registration is closed' }).waitFor();
  await page.getByLabel('Invite code (if you have one)').waitFor();
  await page.context().close();
});

test('a hidden tab gets a title badge and a notification', async () => {
  const hana = await newUser(browser, server.url, 'hana');
  const ivan = await newUser(browser, server.url, 'ivan');
  await hana.context().grantPermissions(['notifications'], { origin: server.url });
  // Headless tabs are never hidden: declare this one hidden, and watch
  // the Notification constructor the app calls.
  await hana.evaluate(() => {
    window.shown = [];
    const Real = window.Notification;
    window.Notification = class extends Real {
      constructor(title, opts) { super(title, opts); window.shown.push({ title, body: opts.body }); }
    };
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await say(ivan, 'ping while you are away');
  await hana.waitForFunction(() => document.title === '(1) SecureChat');
  const shown = await hana.evaluate(() => window.shown);
  assert.deepEqual(shown, [{ title: 'ivan in #general', body: 'ping while you are away' }]);
  // Back to the tab: the badge goes and the room is marked read.
  await hana.evaluate(() => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await hana.waitForFunction(() => document.title === 'SecureChat');
  for (const p of [hana, ivan]) await p.context().close();
});

test('files: an image shows as a preview at the other user, others as links', async () => {
  const jo = await newUser(browser, server.url, 'joan');
  const kim = await newUser(browser, server.url, 'kimi');
  // A 1×1 PNG and a small text file, through the Attach button's input.
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
  await jo.locator('#file-input').setInputFiles([
    { name: 'dot.png', mimeType: 'image/png', buffer: png },
    { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('remember the milk\n') },
    { name: '<img src=x onerror=alert(4)>.txt', mimeType: 'text/plain', buffer: Buffer.from('hostile name') },
  ]);
  // A file name is user text: a link with that text, no element made of it.
  await kim.locator('#messages .file-link', { hasText: '<img src=x onerror=alert(4)>.txt' }).waitFor();
  const preview = kim.locator('#messages .attachment img[alt="dot.png"]');
  await preview.waitFor();
  await kim.waitForFunction(() => {
    const img = document.querySelector('#messages .attachment img[alt="dot.png"]');
    return img && img.complete && img.naturalWidth === 1;
  });
  const link = kim.locator('#messages .file-link', { hasText: 'notes.txt' });
  await link.waitFor();
  assert.match(await link.getAttribute('href'), /^\/api\/files\/\d+$/);
  assert.equal(await kim.locator('#messages .attachment img[alt="notes.txt"]').count(), 0, 'no preview for text');
  assert.equal(await kim.locator('#messages img').count(), 1, 'the PNG preview only');
  assert.match(await kim.locator('#messages li.message', { hasText: 'notes.txt' }).locator('.size').textContent(), /18 B/);
  // The download is the same bytes, as an attachment.
  const [download] = await Promise.all([kim.waitForEvent('download'), link.click()]);
  assert.equal(download.suggestedFilename(), 'notes.txt');
  const fs = await import('node:fs/promises');
  assert.equal(await fs.readFile(await download.path(), 'utf8'), 'remember the milk\n');
  // Dropping a file on the conversation, and pasting one into the box.
  await jo.evaluate(() => {
    const dropped = new DataTransfer();
    dropped.items.add(new File(['dropped here'], 'dropped.txt', { type: 'text/plain' }));
    document.querySelector('.chat').dispatchEvent(new DragEvent('drop', { dataTransfer: dropped, bubbles: true, cancelable: true }));
    const pasted = new DataTransfer();
    pasted.items.add(new File(['pasted here'], 'pasted.txt', { type: 'text/plain' }));
    document.getElementById('message-input').dispatchEvent(new ClipboardEvent('paste', { clipboardData: pasted, bubbles: true, cancelable: true }));
  });
  await kim.locator('#messages .file-link', { hasText: 'dropped.txt' }).waitFor();
  await kim.locator('#messages .file-link', { hasText: 'pasted.txt' }).waitFor();

  // Cancel: a 20 MiB upload stopped at once leaves no message behind.
  await jo.evaluate(() => {
    const big = new DataTransfer();
    big.items.add(new File([new Uint8Array(20 * 1024 * 1024)], 'big.bin'));
    document.querySelector('.chat').dispatchEvent(new DragEvent('drop', { dataTransfer: big, bubbles: true, cancelable: true }));
    document.querySelector('#uploads li[data-upload="big.bin"] button').click();
  });
  await jo.locator('#uploads li', { hasText: 'big.bin: cancelled' }).waitFor();
  await say(jo, 'after the cancel');
  await waitForBody(kim, 'after the cancel');
  assert.equal(await kim.locator('#messages .file-link', { hasText: 'big.bin' }).count(), 0);

  // The sender's view stays at the bottom as the preview loads.
  await jo.locator('#messages .attachment img[alt="dot.png"]').waitFor();
  await jo.waitForFunction(() => {
    const l = document.getElementById('messages');
    return l.scrollHeight - l.scrollTop - l.clientHeight < 40;
  });
  await jo.screenshot({ path: path.join(shots(), 'files.png') });
  for (const p of [jo, kim]) await p.context().close();
});

test('direction overrides in user text cannot flip the page around it', async () => {
  const lena = await newUser(browser, server.url, 'lena');
  const milo = await newUser(browser, server.url, 'milo');
  // A message with an unclosed right-to-left override, and a file whose
  // name tries to pass an .exe off as a .jpg.
  await say(lena, 'pay \u202Eexe.jpg');
  await lena.locator('#file-input').setInputFiles([
    { name: 'invoice\u202Egpj.exe', mimeType: 'application/octet-stream', buffer: Buffer.from('MZ') },
  ]);
  await milo.locator('#messages .file-link', { hasText: 'invoicegpj.exe' }).waitFor();
  await waitForBody(milo, 'pay \u202Eexe.jpg');
  const seen = await milo.evaluate(() => {
    const msg = [...document.querySelectorAll('#messages li.message')].find((li) => li.textContent.includes('exe.jpg'));
    const body = msg.querySelector('.body');
    const from = msg.querySelector('.from');
    const link = [...document.querySelectorAll('#messages .file-link')].find((a) => a.textContent.startsWith('invoice'));
    return {
      body: getComputedStyle(body).unicodeBidi,
      dir: body.getAttribute('dir'),
      from: getComputedStyle(from).unicodeBidi,
      link: getComputedStyle(link).unicodeBidi,
      name: link.textContent,
    };
  });
  assert.deepEqual(seen, { body: 'isolate', dir: 'auto', from: 'isolate', link: 'isolate', name: 'invoicegpj.exe' });
});

test('small breakages: leaving lands in general, drafts stay per room, login form, icons, typing', async () => {
  // Every request the page makes answers: no 404 for an icon or manifest.
  const page = await openPage(browser, server.url);
  const missing = [];
  page.on('response', (r) => { if (r.status() === 404) missing.push(r.url()); });
  // An empty form is explained without asking the server.
  await page.getByRole('button', { name: 'Log in' }).click();
  assert.equal(await page.locator('#login-error').textContent(), 'Enter your username.');
  await page.locator('#login-form').getByLabel('Username').fill('nora');
  await page.getByRole('button', { name: 'Log in' }).click();
  assert.equal(await page.locator('#login-error').textContent(), 'Enter your password.');
  await page.reload();
  await page.locator('#login-form').getByLabel('Username').waitFor();
  assert.deepEqual(missing, []);
  const icon = await page.evaluate(async () => {
    const link = document.querySelector('link[rel=icon]');
    const manifest = document.querySelector('link[rel=manifest]');
    const [i, m, f] = await Promise.all([fetch(link.href), fetch(manifest.href), fetch('/favicon.ico')]);
    return { icon: i.status, manifest: m.status, name: (await m.json()).name, favicon: f.status };
  });
  assert.deepEqual(icon, { icon: 200, manifest: 200, name: 'SecureChat', favicon: 200 });
  await page.context().close();

  const nora = await newUser(browser, server.url, 'nora');
  const omar = await newUser(browser, server.url, 'omar');
  // A draft typed in general stays there when Nora goes to another room,
  // and comes back with her (also after a reload).
  await nora.getByRole('button', { name: 'Create room' }).click();
  await nora.getByLabel('Name', { exact: true }).fill('drafts');
  await nora.getByRole('button', { name: 'Create', exact: true }).click();
  await nora.locator('#room-name', { hasText: '#drafts' }).waitFor();
  await composer(nora).fill('half a thought for drafts');
  await nora.locator('#room-list button', { hasText: 'general' }).click();
  await nora.locator('#room-name', { hasText: '#general' }).waitFor();
  assert.equal(await composer(nora).inputValue(), '');
  await composer(nora).fill('for general');
  await nora.locator('#room-list button', { hasText: 'drafts' }).click();
  await nora.locator('#room-name', { hasText: '#drafts' }).waitFor();
  assert.equal(await composer(nora).inputValue(), 'half a thought for drafts');
  await nora.reload();
  await nora.locator('#conn-status.connected').waitFor();
  await nora.locator('#room-list button', { hasText: 'general' }).click();
  await nora.locator('#room-name', { hasText: '#general' }).waitFor();
  assert.equal(await composer(nora).inputValue(), 'for general');
  // Sent, the draft is gone.
  await composer(nora).press('Enter');
  await waitForBody(omar, 'for general');
  await nora.locator('#room-list button', { hasText: 'drafts' }).click();
  await nora.locator('#room-name', { hasText: '#drafts' }).waitFor();
  await nora.locator('#room-list button', { hasText: 'general' }).click();
  await nora.locator('#room-name', { hasText: '#general' }).waitFor();
  assert.equal(await composer(nora).inputValue(), '');

  // "Omar is typing…" goes away as soon as his message arrives.
  await composer(omar).fill('typing…');
  await nora.locator('#typing', { hasText: 'omar is typing' }).waitFor();
  await composer(omar).press('Enter');
  await waitForBody(nora, 'typing…');
  // Gone with the message, not 4 s later.
  await nora.waitForFunction(() => document.getElementById('typing').textContent === '', null, { timeout: 1500 });

  // Leaving a room lands in general, with a working composer.
  await nora.locator('#room-list button', { hasText: 'drafts' }).click();
  await nora.getByRole('button', { name: 'Leave' }).click();
  await nora.locator('#ask-ok', { hasText: 'Leave' }).click();
  await nora.locator('#room-name', { hasText: '#general' }).waitFor();
  await say(nora, 'back in general');
  await waitForBody(omar, 'back in general');
  await nora.context().close();
  await omar.context().close();
});

test('message text can be selected: rendering touches only what changed', async () => {
  const pia = await newUser(browser, server.url, 'pia');
  const quin = await newUser(browser, server.url, 'quin');
  await say(quin, 'select me and copy me');
  await waitForBody(pia, 'select me and copy me');
  // Select the message's text, and mark its element.
  await pia.evaluate(() => {
    const li = [...document.querySelectorAll('#messages li.message')].find((l) => l.textContent.includes('select me'));
    li.dataset.marked = 'yes';
    const range = document.createRange();
    range.selectNodeContents(li.querySelector('.body'));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
  });
  // The once-a-second refresh, a new message, and an edit elsewhere later,
  // the same element is there and the selection with it.
  await pia.waitForTimeout(2500);
  await say(quin, 'another message');
  await waitForBody(pia, 'another message');
  const kept = await pia.evaluate(() => ({
    selected: getSelection().toString(),
    same: Boolean(document.querySelector('#messages li.message[data-marked="yes"]')),
  }));
  assert.deepEqual(kept, { selected: 'select me and copy me', same: true });
  await pia.context().close();
  await quin.context().close();
});

test('on a phone the composer sits at the bottom and grows with its lines', async () => {
  const rae = await newUser(browser, server.url, 'rae', { width: 390, height: 844 });
  const box = await composer(rae).boundingBox();
  assert.ok(box.y + box.height > 844 * 0.85, `composer at ${box.y}`);
  const oneLine = box.height;
  await composer(rae).focus();
  for (const line of ['one', 'two', 'three', 'four']) {
    await rae.keyboard.type(line);
    await rae.keyboard.press('Shift+Enter');
  }
  await rae.keyboard.type('five');
  const grown = await composer(rae).evaluate((t) => ({ h: t.clientHeight, s: t.scrollHeight }));
  assert.ok(grown.h > oneLine * 2, `grew to ${grown.h}px from ${oneLine}px`);
  assert.ok(grown.s <= grown.h + 2, 'every line shows');
  const placeholder = await composer(rae).getAttribute('placeholder');
  assert.equal(placeholder, 'Message');
  await rae.keyboard.press('Enter');
  await waitForBody(rae, 'five');
  const after = await composer(rae).boundingBox();
  assert.ok(Math.abs(after.height - oneLine) < 4, 'back to one line once sent');
  await rae.context().close();
});

test('a refused message can be retried, taken back to edit, or discarded', async () => {
  const sam = await newUser(browser, server.url, 'sam');
  // Over the 16 KiB limit: the server refuses it (too_large).
  const big = 'x'.repeat(17000);
  await say(sam, big);
  const failed = sam.locator('#messages li.pending.failed');
  await failed.waitFor();
  assert.match(await failed.locator('.state').textContent(), /^not sent: /);
  // Retry sends it again (and it is refused again: still one item).
  await failed.getByRole('button', { name: 'Retry' }).click();
  await sam.locator('#messages li.pending.failed').waitFor();
  assert.equal(await sam.locator('#messages li.pending').count(), 1);
  // Edit puts the text back into the box; shortened, it goes out.
  await sam.locator('#messages li.pending.failed').getByRole('button', { name: 'Edit unsent message' }).click();
  assert.equal(await composer(sam).inputValue(), big);
  await sam.locator('#messages li.pending').waitFor({ state: 'detached' });
  await composer(sam).fill('x'.repeat(100));
  await composer(sam).press('Enter');
  await waitForBody(sam, 'x'.repeat(100));
  // Discard lets another refused one go.
  await say(sam, big);
  await sam.locator('#messages li.pending.failed').getByRole('button', { name: 'Discard' }).click();
  await sam.locator('#messages li.pending').waitFor({ state: 'detached' });
  await sam.context().close();
});
