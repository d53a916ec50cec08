// End-to-end encryption in the browser, against the real server and the
// real terminal client: an encrypted DM between two browsers, then between
// a browser and `securechat` in both directions (the same crypto code,
// compiled to WebAssembly on one side and native on the other); an edit
// opened on the other side; the server's database holds none of the text;
// a new browser login reads the old history after restoring the backup;
// files sealed in the browser open in the terminal and the other way
// round, with the image previewed from bytes decrypted in the page.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { launch, newUser as helperNewUser, openPage, signIn, say, waitForBody, shot, axeViolations, answer, PASSWORD } from './browser.mjs';
import { Server } from './server.mjs';

const run = promisify(execFile);
const server = new Server();
let browser;
const CLI = process.env.WEBTEST_CLIENT_BIN
  || path.join(path.dirname(process.env.WEBTEST_SERVER_BIN || 'target/debug/securechat-server'), 'securechat');

before(async () => {
  await server.start();
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  await server.stop();
});

const newUser = (name, viewport) => helperNewUser(browser, server.url, name, viewport);

// The terminal client as `home`'s user; `input` goes to its standard input.
async function terminal(home, args, input) {
  const child = execFile(CLI, ['--config-dir', home, '--ca-file', path.join(server.dataDir, 'tls', 'ca.pem'), ...args]);
  if (input !== undefined) child.stdin.end(input); else child.stdin.end();
  let out = ''; let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((r) => child.on('exit', r));
  assert.equal(code, 0, `securechat ${args.join(' ')}: ${err}`);
  return out;
}

// Whether the browser's E2E device is ready (published its keys).
async function e2eReady(page) {
  await page.waitForFunction(() => window.securechatE2E !== undefined);
  assert.ok(await page.evaluate(async () => Boolean(await window.securechatE2E)), 'E2E device');
}

async function openDmWith(page, user) {
  await page.locator(`[data-user="${user}"]`).click();
  await page.locator('#room-topic', { hasText: 'End-to-end encrypted' }).waitFor();
}

test('browsers and the terminal talk end to end encrypted; the server holds only ciphertext', async () => {
  const alice = await newUser('alice');
  const bob = await newUser('bob');
  await e2eReady(alice);
  await e2eReady(bob);

  // Browser to browser.
  await openDmWith(alice, 'bob');
  await say(alice, 'PLUM-7 the launch moves to friday');
  await openDmWith(bob, 'alice');
  await waitForBody(bob, 'PLUM-7 the launch moves to friday');
  await say(bob, 'PLUM-8 noted, thanks');
  await waitForBody(alice, 'PLUM-8 noted, thanks');
  // The sidebar marks the conversation.
  assert.ok(await alice.locator('#dm-list .lock').count() >= 1);
  await alice.screenshot({ path: shot('e2e-dm.png') });

  // An edit, opened on the other side.
  const mine = alice.locator('#messages li.message', { hasText: 'PLUM-7' }).first();
  await mine.hover();
  await mine.getByRole('button', { name: 'Edit' }).click();
  const box = alice.locator('#messages textarea').first();
  await box.fill('PLUM-7 the launch moves to monday');
  await box.press('Enter');
  await waitForBody(bob, 'PLUM-7 the launch moves to monday');

  // The terminal client: carol, in an encrypted DM with alice.
  const carol = mkdtempSync(path.join(tmpdir(), 'securechat-carol-'));
  await terminal(carol, ['register', server.url, '-u', 'carol', '--password-stdin'], `${PASSWORD}\n`);
  await terminal(carol, ['keys', 'devices']);
  await terminal(carol, ['dm', 'alice']);
  await terminal(carol, ['send', '@alice', 'PLUM-9 hello from the terminal']);
  await alice.reload();
  await alice.locator('#conn-status.connected').waitFor();
  await openDmWith(alice, 'carol');
  await waitForBody(alice, 'PLUM-9 hello from the terminal');
  await say(alice, 'PLUM-10 hello from the browser');
  await alice.locator('#messages li.message:not(.pending) .body', { hasText: 'PLUM-10' }).waitFor();
  let history = '';
  for (let i = 0; i < 20 && !history.includes('PLUM-10'); i++) {
    history = await terminal(carol, ['history', '@alice']);
    if (!history.includes('PLUM-10')) await new Promise((r) => setTimeout(r, 250));
  }
  assert.match(history, /PLUM-10 hello from the browser/);
  assert.doesNotMatch(history, /unable to decrypt/);

  // The server's files hold none of it.
  for (const name of readdirSync(server.dataDir)) {
    if (!name.startsWith('securechat.db')) continue;
    const bytes = readFileSync(path.join(server.dataDir, name));
    for (const n of [7, 8, 9, 10]) assert.equal(bytes.indexOf(`PLUM-${n}`), -1, `PLUM-${n} in ${name}`);
  }

  // Search cannot find them, and says why.
  await alice.locator('#search-input').fill('PLUM');
  await alice.locator('#search-input').press('Enter');
  await alice.locator('#search-status', { hasText: 'Nothing found' }).waitFor();
  await alice.locator('#search-e2e-note', { hasText: 'not searched' }).waitFor();
  await alice.locator('#search-close').click();

  // What it costs in the browser (WebAssembly): Megolm encrypt and
  // decrypt of a 200-byte message, in a room of its own (bench/E2E.md).
  const cost = await alice.evaluate(async () => {
    const e = await window.securechatE2E;
    const body = 'x'.repeat(200);
    const n = 500;
    const sealed = [];
    let t = performance.now();
    for (let i = 0; i < n; i++) sealed.push(e.device.encrypt(999999, body, ''));
    const enc = (performance.now() - t) * 1000 / n;
    t = performance.now();
    for (const c of sealed) e.device.decrypt(999999, 'alice', c);
    const dec = (performance.now() - t) * 1000 / n;
    return { enc, dec };
  });
  console.log(`browser (wasm): Megolm encrypt ${cost.enc.toFixed(1)} µs, decrypt ${cost.dec.toFixed(1)} µs per 200-byte message`);
  assert.ok(cost.enc > 0 && cost.dec > 0);
});

test('a new browser login reads old history after restoring the key backup', async () => {
  const dave = await newUser('dave');
  const erin = await newUser('erin');
  await e2eReady(dave);
  await e2eReady(erin);
  await openDmWith(dave, 'erin');
  await say(dave, 'QUINCE-1 before the new laptop');
  await openDmWith(erin, 'dave');
  await waitForBody(erin, 'QUINCE-1 before the new laptop');
  // Erin starts a backup with a passphrase (as the app's dialog does).
  await erin.evaluate(async () => (await window.securechatE2E).newBackup('erin passphrase long enough'));

  // A new browser (fresh storage) logs erin in: a new device.
  const laptop = await openPage(browser, server.url);
  await signIn(laptop, 'erin', 'Log in');
  await laptop.locator('#conn-status.connected').waitFor();
  await e2eReady(laptop);
  await openDmWith(laptop, 'dave');
  await laptop.locator('.body', { hasText: 'restore your key backup' }).first().waitFor();
  const added = await laptop.evaluate(async () => (await window.securechatE2E).restore('erin passphrase long enough'));
  assert.equal(added, 1);
  await laptop.reload();
  await laptop.locator('#conn-status.connected').waitFor();
  await openDmWith(laptop, 'dave');
  await waitForBody(laptop, 'QUINCE-1 before the new laptop');
});

// Every file under `dir`, with its bytes.
function allFiles(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? allFiles(p) : [[p, readFileSync(p)]];
  });
}

test('files in an encrypted DM: sealed in the browser, opened in the terminal, and back', async () => {
  const frank = await newUser('frank');
  await e2eReady(frank);
  const gina = mkdtempSync(path.join(tmpdir(), 'securechat-gina-'));
  await terminal(gina, ['register', server.url, '-u', 'gina', '--password-stdin'], `${PASSWORD}\n`);
  await terminal(gina, ['keys', 'devices']);
  await terminal(gina, ['dm', 'frank']);
  await terminal(gina, ['send', '@frank', 'FIG-1 send me the plan']);
  await frank.reload();
  await frank.locator('#conn-status.connected').waitFor();
  await openDmWith(frank, 'gina');
  await waitForBody(frank, 'FIG-1 send me the plan');

  // Frank attaches a picture and a text file: sealed here, sent nameless.
  const picture = await frank.screenshot({ clip: { x: 0, y: 0, width: 240, height: 140 } });
  const text = 'FIG-SECRET-2 the plan, in full\n'.repeat(50);
  await frank.locator('#file-input').setInputFiles([
    { name: 'FIG-plan.png', mimeType: 'image/png', buffer: picture },
    { name: 'FIG-plan.txt', mimeType: 'text/plain', buffer: Buffer.from(text) },
  ]);
  const card = frank.locator('#messages .file-link', { hasText: 'FIG-plan.txt' });
  await card.waitFor();
  await frank.locator('#messages .size', { hasText: 'encrypted' }).first().waitFor();
  // The preview is drawn from the bytes decrypted in the page.
  const preview = frank.locator('#messages .preview img[alt="FIG-plan.png"]');
  await preview.waitFor();
  await frank.waitForFunction(() => {
    const img = document.querySelector('#messages .preview img[alt="FIG-plan.png"]');
    return img && img.complete && img.naturalWidth > 0 && img.src.startsWith('blob:');
  });
  await frank.screenshot({ path: shot('e2e-files.png') });

  // The terminal sees the real names and downloads the files decrypted.
  let history = '';
  for (let i = 0; i < 20 && !history.includes('FIG-plan.txt'); i++) {
    history = await terminal(gina, ['history', '@frank']);
    if (!history.includes('FIG-plan.txt')) await new Promise((r) => setTimeout(r, 250));
  }
  const id = (name) => Number(history.match(new RegExp(`\\[file (\\d+): ${name.replace('.', '\\.')}`))[1]);
  const saved = path.join(gina, 'plan.txt');
  assert.match(await terminal(gina, ['download', String(id('FIG-plan.txt')), saved]), /decrypted/);
  assert.equal(readFileSync(saved, 'utf8'), text);
  const savedPng = path.join(gina, 'plan.png');
  await terminal(gina, ['download', String(id('FIG-plan.png')), savedPng]);
  assert.ok(readFileSync(savedPng).equals(picture), 'the picture, byte for byte');

  // Gina uploads from the terminal; frank opens and saves it.
  const notes = path.join(gina, 'FIG-notes.txt');
  writeFileSync(notes, 'FIG-SECRET-3 notes from the terminal\n');
  assert.match(await terminal(gina, ['upload', '@frank', notes, '--caption', 'FIG-4 my notes']), /end-to-end encrypted/);
  await waitForBody(frank, 'FIG-4 my notes');
  const link = frank.locator('#messages .file-link', { hasText: 'FIG-notes.txt' });
  const [download] = await Promise.all([frank.waitForEvent('download'), link.click()]);
  assert.equal(download.suggestedFilename(), 'FIG-notes.txt');
  assert.equal(readFileSync(await download.path(), 'utf8'), 'FIG-SECRET-3 notes from the terminal\n');

  // The terminal shows the safety code the browser shows for the same pair.
  const frankDevice = await frank.evaluate(async () => (await window.securechatE2E).deviceId);
  const printed = await terminal(gina, ['keys', 'verify', 'frank']);
  const block = printed.split(/\n(?=frank's device)/).find((b) => b.startsWith(`frank's device ${frankDevice}`));
  const [, emojiLine, digitsLine] = block.split('\n').map((l) => l.trim());
  await frank.locator('#messages li.message .from', { hasText: 'gina' }).first().click();
  await frank.locator('#card-verify').click();
  const item = frank.locator('#verify-list li').first();
  await item.waitFor();
  assert.equal((await item.locator('.safety-emoji').textContent()).trim(), emojiLine);
  assert.equal((await item.locator('.safety-digits').textContent()).trim(), digitsLine);
  await frank.locator('#verify-dialog').getByRole('button', { name: 'Close' }).click();

  // The server holds none of it: not the files, not their names.
  for (const [p, bytes] of allFiles(server.dataDir)) {
    for (const marker of ['FIG-SECRET', 'FIG-plan', 'FIG-notes', 'FIG-4']) {
      assert.equal(bytes.indexOf(marker), -1, `${marker} in ${p}`);
    }
  }
});

test('the security dialog: recovery key from the banner, restore on a new login, safety codes match, a device removed', async () => {
  const hank = await newUser('hank');
  const ivy = await newUser('ivy');
  await e2eReady(hank);
  await e2eReady(ivy);
  await openDmWith(hank, 'ivy');
  await say(hank, 'KIWI-1 before the recovery key');

  // The first encrypted conversation offers a backup, without taking focus.
  const banner = hank.locator('#security-banner');
  await banner.waitFor();
  assert.match(await banner.textContent(), /recovery key/);
  assert.equal(await hank.evaluate(() => document.activeElement?.id), 'message-input');
  await hank.screenshot({ path: shot('e2e-banner.png') });
  await hank.locator('#security-banner-ok', { hasText: 'Create recovery key' }).click();
  await banner.waitFor({ state: 'hidden' });
  const dialog = hank.locator('#security-dialog');
  await dialog.waitFor();
  await hank.locator('#recovery-show').waitFor();
  const key = (await hank.locator('#recovery-key').textContent()).trim();
  assert.ok(key.length >= 40, `a recovery key is shown: ${key}`);
  assert.match(await hank.locator('#backup-status').textContent(), /backed up/);
  assert.equal(await hank.locator('#device-list li').count(), 1);
  assert.match(await hank.locator('#device-list li').first().textContent(), /this browser/);
  await hank.screenshot({ path: shot('e2e-security.png') });
  assert.deepEqual(await axeViolations(hank), []);
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'hidden' });

  // Ivy reads it; hank logs in on a new browser and restores from the banner.
  await openDmWith(ivy, 'hank');
  await waitForBody(ivy, 'KIWI-1 before the recovery key');
  await say(ivy, 'KIWI-2 got it');
  await waitForBody(hank, 'KIWI-2 got it');
  const laptop = await openPage(browser, server.url);
  await signIn(laptop, 'hank', 'Log in');
  await laptop.locator('#conn-status.connected').waitFor();
  await e2eReady(laptop);
  await openDmWith(laptop, 'ivy');
  await laptop.locator('.body', { hasText: 'restore your key backup' }).first().waitFor();
  await laptop.locator('#security-banner-ok', { hasText: 'Restore' }).click();
  // A wrong key is refused and loses nothing; then the right one.
  await answer(laptop, 'not the key at all');
  await laptop.locator('#ask-dialog[open] #ask-text', { hasText: 'not the right recovery key' }).waitFor();
  await answer(laptop);
  await laptop.evaluate(() => document.getElementById('security-button').click());
  await laptop.locator('#security-dialog').waitFor();
  await laptop.locator('#backup-restore').click();
  const reloaded = laptop.waitForEvent('load');
  await answer(laptop, key);
  await laptop.locator('#ask-dialog[open] #ask-text', { hasText: /Restored [1-9]/ }).waitFor();
  await laptop.locator('#ask-ok').click();
  await reloaded;
  await laptop.locator('#conn-status.connected').waitFor();
  await openDmWith(laptop, 'ivy');
  await waitForBody(laptop, 'KIWI-1 before the recovery key');

  // Verification: ivy sees, for hank's first device, the code hank sees for hers.
  const hankDevice = await hank.evaluate(async () => (await window.securechatE2E).deviceId);
  const ivyDevice = await ivy.evaluate(async () => (await window.securechatE2E).deviceId);
  await ivy.locator('#messages li.message .from', { hasText: 'hank' }).first().click();
  await ivy.locator('#card-verify').click();
  const ivySide = ivy.locator(`#verify-list li[data-device="${hankDevice}"]`);
  await ivySide.waitFor();
  assert.equal(await ivy.locator('#verify-list li').count(), 2, 'both of hank\'s devices');
  await openDmWith(hank, 'ivy');
  await hank.locator('#messages li.message .from', { hasText: 'ivy' }).first().click();
  await hank.locator('#card-verify').click();
  const hankSide = hank.locator(`#verify-list li[data-device="${ivyDevice}"]`);
  await hankSide.waitFor();
  const emoji = async (side) => (await side.locator('.safety-emoji').textContent()).trim();
  const digits = async (side) => (await side.locator('.safety-digits').textContent()).trim();
  assert.equal(await emoji(ivySide), await emoji(hankSide));
  assert.equal(await digits(ivySide), await digits(hankSide));
  // Hank's other device (the laptop) has a code of its own.
  const codes = await ivy.locator('#verify-list .safety-digits').allTextContents();
  assert.notEqual(codes[0], codes[1]);
  await ivySide.getByRole('button', { name: 'They match' }).click();
  await ivySide.locator('.verified-state.yes', { hasText: 'Verified' }).waitFor();
  await ivy.screenshot({ path: shot('e2e-verify.png') });
  // On a phone, in the dark, and for a screen reader.
  await ivy.setViewportSize({ width: 390, height: 844 });
  await ivy.emulateMedia({ colorScheme: 'dark' });
  await ivy.screenshot({ path: shot('e2e-verify-phone-dark.png') });
  assert.deepEqual(await axeViolations(ivy), []);
  await ivy.setViewportSize({ width: 1100, height: 720 });
  await ivy.emulateMedia({ colorScheme: 'light' });
  await ivy.locator('#verify-dialog').getByRole('button', { name: 'Close' }).click();
  await hank.locator('#verify-dialog').getByRole('button', { name: 'Close' }).click();
  // Verified is remembered across a reload.
  await ivy.reload();
  await ivy.locator('#conn-status.connected').waitFor();
  assert.ok(await ivy.evaluate(async (d) => (await window.securechatE2E).isVerified(d), hankDevice));

  // Hank removes the laptop from his first browser: it is logged out at once.
  await hank.evaluate(() => document.getElementById('security-button').click());
  await hank.locator('#device-list li').nth(1).waitFor();
  const laptopDevice = await laptop.evaluate(async () => (await window.securechatE2E).deviceId);
  await hank.locator(`#device-list li[data-device="${laptopDevice}"]`).getByRole('button', { name: 'Remove' }).click();
  await answer(hank);
  await hank.waitForFunction(() => document.querySelectorAll('#device-list li').length === 1);
  await laptop.locator('#login-form').waitFor();
});
