// Integrations in the browser: API tokens (made, shown once, used by a
// script, revoked), a retention policy the room mentions, a room's webhooks (an incoming URL a script posts to;
// an outgoing one to a real local receiver that answers), bots marked as
// bots; screenshots of both dialogs, desktop light and phone dark.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { launch, newUser, say, waitForBody, answer, axeViolations, shot } from './browser.mjs';
import { Server } from './server.mjs';

const server = new Server({ env: { SECURECHAT_WEBHOOK_ALLOW: '["127.0.0.1"]', SECURECHAT_RETENTION_DAYS: '30' } });
let browser;
let receiver;
const received = [];

before(async () => {
  await server.start();
  browser = await launch();
  // The outgoing webhook's receiver: records each delivery, answers a reply.
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      received.push({ headers: req.headers, body: JSON.parse(body) });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ text: `deploying ${received.length}` }));
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
});

after(async () => {
  if (browser) await browser.close();
  if (receiver) receiver.close();
  await server.stop();
});

// A script's POST over HTTPS, trusting the server's own CA.
function post(url, body, token) {
  const ca = readFileSync(path.join(server.dataDir, 'tls', 'ca.pem'));
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method: 'POST', ca, servername: 'localhost',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    }, (res) => {
      let data = '';
      res.on('data', (d) => { data += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: data ? JSON.parse(data) : null }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

async function openMenu(page) {
  if (!(await page.locator('.user-menu').evaluate((d) => d.open))) await page.locator('.user-menu summary').click();
}

test('API tokens: made and shown once, used by a script, revoked', async () => {
  const ann = await newUser(browser, server.url, 'ann');
  // (The server keeps messages 30 days: the room says so.)
  await ann.locator('#messages .intro', { hasText: 'Messages here are removed after 30 days.' }).waitFor();
  await openMenu(ann);
  await ann.getByRole('button', { name: 'API tokens' }).click();
  const dialog = ann.locator('#tokens-dialog');
  await dialog.getByText('You have no API tokens.').waitFor();
  // No scope: explained, nothing made.
  await dialog.getByLabel('Token name').fill('release script');
  await dialog.getByLabel(/Read:/).uncheck();
  await dialog.getByRole('button', { name: 'Create token' }).click();
  await dialog.locator('#tokens-error', { hasText: 'at least one scope' }).waitFor();
  await dialog.getByLabel(/Read:/).check();
  await dialog.getByLabel(/Write:/).check();
  await dialog.getByRole('button', { name: 'Create token' }).click();
  const token = await dialog.locator('#token-new code').textContent();
  assert.match(token, /^sct_/);
  await dialog.locator('#token-list li', { hasText: 'release script' }).waitFor();
  assert.match(await dialog.locator('#token-list li').textContent(), /read, write.*never used/s);
  assert.deepEqual(await axeViolations(ann), []);
  await ann.screenshot({ path: shot('tokens-desktop-light.png') });

  // A script posts with it; the message lands in general, as ann.
  const room = await ann.evaluate(() => fetch('/api/rooms').then((r) => r.json()).then((d) => d.rooms.find((r) => r.name === 'general').id));
  const sent = await post(`${server.url.replace('127.0.0.1', 'localhost')}/api/rooms/${room}/messages`, { body: 'build 1042 passed' }, token);
  assert.equal(sent.status, 201);
  assert.equal(sent.body.from, 'ann');
  await ann.getByRole('button', { name: 'Close' }).first().click().catch(() => {});
  await ann.keyboard.press('Escape');
  await waitForBody(ann, 'build 1042 passed');

  // Revoked from the list: the script is refused from then on.
  await openMenu(ann);
  await ann.getByRole('button', { name: 'API tokens' }).click();
  await dialog.getByRole('button', { name: 'Revoke release script' }).click();
  await answer(ann);
  await dialog.getByText('You have no API tokens.').waitFor();
  const again = await post(`${server.url.replace('127.0.0.1', 'localhost')}/api/rooms/${room}/messages`, { body: 'after revoke' }, token);
  assert.equal(again.status, 401);
  await ann.keyboard.press('Escape');

  // Profile → Download my data: a zip of what she wrote.
  await openMenu(ann);
  await ann.getByRole('button', { name: 'Profile' }).click();
  const [download] = await Promise.all([
    ann.waitForEvent('download'),
    ann.getByRole('link', { name: 'Download my data' }).click(),
  ]);
  assert.match(download.suggestedFilename(), /^securechat-ann-\d+\.zip$/);
  const zip = readFileSync(await download.path());
  assert.equal(zip.subarray(0, 2).toString(), 'PK');
  // (Its contents are checked by the server's tests: import::…export….)
  assert.ok(zip.length > 200, `${zip.length} bytes`);
  await ann.context().close();
});

test('webhooks: an incoming URL posts, an outgoing one reaches a receiver that replies', async () => {
  const bea = await newUser(browser, server.url, 'bea');
  const cyd = await newUser(browser, server.url, 'cyd', { width: 390, height: 844 });
  await bea.getByRole('button', { name: 'Integrations' }).click();
  const dialog = bea.locator('#hooks-dialog');
  await dialog.getByText('No webhooks here yet.').waitFor();
  await dialog.getByLabel('Webhook name').fill('Alerts');
  await dialog.getByRole('button', { name: 'Create webhook' }).click();
  const url = await dialog.locator('#hook-new code').textContent();
  assert.match(url, /^https:\/\/127\.0\.0\.1:\d+\/hooks\/sch_/);
  const posted = await post(url.replace('127.0.0.1', 'localhost'), { text: 'disk 91% full on db1' });
  assert.equal(posted.status, 201);
  await waitForBody(cyd, 'disk 91% full on db1');

  // Outgoing, on a trigger word, to the receiver; a bad URL is explained.
  await dialog.getByLabel(/Outgoing:/).check();
  await dialog.getByLabel('Webhook name').fill('Deployer');
  await dialog.getByLabel('Webhook URL').fill('https://10.0.0.1/hook');
  await dialog.getByRole('button', { name: 'Create webhook' }).click();
  await dialog.locator('#hooks-error', { hasText: 'webhook URL refused' }).waitFor();
  await dialog.getByLabel('Webhook URL').fill(`http://127.0.0.1:${receiver.address().port}/hook`);
  await dialog.getByLabel('Trigger words (optional)').fill('!deploy');
  await dialog.getByRole('button', { name: 'Create webhook' }).click();
  await dialog.locator('#hook-new code', { hasText: /^whsec_/ }).waitFor();
  await dialog.locator('#hook-list li', { hasText: 'Deployer' }).waitFor();
  assert.equal(await dialog.locator('#hook-list li').count(), 2);
  assert.deepEqual(await axeViolations(bea), []);
  await bea.screenshot({ path: shot('webhooks-desktop-light.png') });
  await bea.keyboard.press('Escape');

  await say(cyd, 'lunch?');
  await say(cyd, '!deploy web');
  // The reply comes back as the webhook's owner.
  await waitForBody(bea, 'deploying 1');
  await waitForBody(cyd, 'deploying 1');
  assert.equal(received.length, 1);
  assert.equal(received[0].body.body, '!deploy web');
  assert.equal(received[0].body.sender, 'cyd');
  assert.match(received[0].headers['x-securechat-signature'], /^sha256=[0-9a-f]{64}$/);

  // Cy (not the owner) sees both, and may delete neither.
  await cyd.getByRole('button', { name: 'Integrations' }).click();
  await cyd.locator('#hook-list li', { hasText: 'Deployer' }).waitFor();
  assert.equal(await cyd.locator('#hook-list').getByRole('button', { name: /^Delete/ }).count(), 0);
  await cyd.emulateMedia({ colorScheme: 'dark' });
  assert.deepEqual(await axeViolations(cyd), []);
  await cyd.screenshot({ path: shot('webhooks-phone-dark.png') });
  await cyd.keyboard.press('Escape');

  // A bot (made by the operator's CLI) posts; its messages carry a bot tag.
  const bin = process.env.WEBTEST_SERVER_BIN || path.resolve('../../target/debug/securechat-server');
  const botToken = execFileSync(bin, ['--data-dir', server.dataDir, 'user', 'add-bot', 'buildbot'], { encoding: 'utf8' }).trim();
  assert.match(botToken, /^sct_/);
  const room = await bea.evaluate(() => fetch('/api/rooms').then((r) => r.json()).then((d) => d.rooms.find((r) => r.name === 'general').id));
  assert.equal((await post(`${server.url.replace('127.0.0.1', 'localhost')}/api/rooms/${room}/messages`, { body: 'nightly is green' }, botToken)).status, 201);
  await cyd.reload();
  await waitForBody(cyd, 'nightly is green');
  const byBot = cyd.locator('#messages li.message', { hasText: 'nightly is green' });
  await cyd.locator('#messages .meta', { hasText: 'buildbot' }).locator('.tag', { hasText: 'bot' }).waitFor();
  assert.equal(await byBot.count(), 1);
  await bea.context().close();
  await cyd.context().close();
});
