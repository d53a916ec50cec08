// Fast and small: a room of 10,000 messages opens and scrolls smoothly
// (the list is windowed: a few hundred elements whatever the room's
// length), every message shows on the way, and the app shell stays small.
// The figures are printed (and recorded in docs/web-performance.md); the
// bounds asserted are loose, for slow machines.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, newUser } from './browser.mjs';
import { Server } from './server.mjs';

const COUNT = Number(process.env.SCALE_COUNT || 10000);
const server = new Server({
  env: { SECURECHAT_RATE_PER_SEC: '100000', SECURECHAT_BURST: '100000', SECURECHAT_FLOOD_LIMIT: '1000000' },
  memory: true,
});
let browser;

before(async () => {
  await server.start();
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  await server.stop();
});

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : 0);
  return { n: s.length, p50: +at(0.5).toFixed(2), p95: +at(0.95).toFixed(2), max: +(s[s.length - 1] || 0).toFixed(2) };
};

test('a room of 10,000 messages opens, scrolls to its first message and back smoothly', async () => {
  // Seed through WebSockets of the seeding user's own page: 20 sockets,
  // 25 sends in flight on each, every send acked (durable) before the next.
  // (One socket's sends are committed one after another; many sockets
  // share the server's group commits.)
  const seeder = await newUser(browser, server.url, 'seeder');
  const t0 = Date.now();
  const seeded = await seeder.evaluate(async (count) => {
    const SOCKETS = 20;
    const one = async (k) => {
      const ws = new WebSocket(`wss://${location.host}/ws`);
      const room = await new Promise((resolve) => {
        ws.onmessage = (e) => {
          const m = JSON.parse(e.data);
          if (m.type === 'welcome') resolve(m.rooms.find((r) => r.name === 'general').id);
        };
      });
      let acked = 0;
      let wake = null;
      ws.onmessage = (e) => { if (JSON.parse(e.data).type === 'ack') { acked += 1; if (wake) wake(); } };
      const mine = [];
      for (let j = k + 1; j <= count; j += SOCKETS) mine.push(j);
      let sent = 0;
      while (acked < mine.length) {
        while (sent < mine.length && sent - acked < 25) {
          ws.send(JSON.stringify({ type: 'send', room, client_msg_id: `seed-${mine[sent]}`, body: `m ${mine[sent]}` }));
          sent += 1;
        }
        await new Promise((r) => { wake = r; });
      }
      ws.close();
      return acked;
    };
    const counts = await Promise.all(Array.from({ length: SOCKETS }, (_, k) => one(k)));
    return counts.reduce((a, b) => a + b, 0);
  }, COUNT);
  assert.equal(seeded, COUNT);
  console.log('seeded in', Date.now() - t0, 'ms');

  const reader = await newUser(browser, server.url, 'reader', { width: 1280, height: 800 });
  await reader.locator('#messages li.message').first().waitFor();
  const run = await reader.evaluate(async (count) => {
    const list = document.getElementById('messages');
    const seen = new Set();
    const note = () => { for (const li of list.querySelectorAll('li.message')) seen.add(li.dataset.seq); };
    const watcher = new MutationObserver(note);
    watcher.observe(list, { childList: true });
    note();
    performance.clearMeasures('securechat:render');
    const frames = [];
    let last = performance.now();
    let running = true;
    const tick = (t) => { frames.push(t - last); last = t; if (running) requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
    // The top of the room: its intro shows once its first event is loaded.
    const atTop = () => Boolean(list.querySelector('li.intro'));
    let maxItems = list.children.length;
    let steps = 0;
    const started = performance.now();
    // Up, a screen at a time, the way a reader drags the scrollbar.
    while (steps < 5000 && !atTop()) {
      list.scrollTop = Math.max(0, list.scrollTop - list.clientHeight);
      await new Promise((r) => setTimeout(r, 16));
      maxItems = Math.max(maxItems, list.children.length);
      steps += 1;
    }
    const upMs = performance.now() - started;
    const reachedFirst = atTop();
    const upRenders = performance.getEntriesByName('securechat:render').map((e) => e.duration);
    // And back down to the newest.
    const down = performance.now();
    let downSteps = 0;
    const newest = () => !document.getElementById('jump-button').offsetParent;
    while (downSteps < 5000 && !(newest() && list.scrollHeight - list.scrollTop - list.clientHeight < 5)) {
      list.scrollTop += list.clientHeight;
      await new Promise((r) => setTimeout(r, 16));
      maxItems = Math.max(maxItems, list.children.length);
      downSteps += 1;
    }
    const downMs = performance.now() - down;
    running = false;
    watcher.disconnect();
    const missing = count - seen.size;
    return {
      reachedFirst, steps, upMs: Math.round(upMs), downSteps, downMs: Math.round(downMs), maxItems, missing,
      renders: upRenders, frames,
      heapMB: performance.memory ? Math.round(performance.memory.usedJSHeapSize / 1e6) : null,
    };
  }, COUNT);
  const report = {
    scrolledUpThrough: COUNT, stepsUp: run.steps, msUp: run.upMs, stepsDown: run.downSteps, msDown: run.downMs,
    maxListItems: run.maxItems, render: stats(run.renders), frame: stats(run.frames), heapMB: run.heapMB,
  };
  console.log('10,000-message room:', JSON.stringify(report));
  assert.ok(run.reachedFirst, 'scrolled up to the first message');
  assert.equal(run.missing, 0, 'every message was on screen on the way');
  assert.ok(run.maxItems <= 300, `the list stays windowed: ${run.maxItems} items`);
  assert.ok(report.render.p95 < 100, `render p95 ${report.render.p95} ms`);

  // Jump to latest from far up.
  await reader.locator('#messages').evaluate((l) => { l.scrollTop = 0; });
  await reader.locator('#messages').evaluate((l) => { l.scrollTop = 0; l.dispatchEvent(new Event('scroll')); });
  await reader.locator('#jump-button').click();
  await reader.locator('#jump-button').waitFor({ state: 'hidden' });
  assert.ok(await reader.locator('#messages').evaluate((l) => l.scrollHeight - l.scrollTop - l.clientHeight < 40));
  for (const p of [seeder, reader]) await p.context().close();
});

test('the app shell stays small', () => {
  const web = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web');
  const files = ['index.html', 'app.css', 'sw.js', 'icon.svg', 'manifest.webmanifest',
    ...readdirSync(path.join(web, 'js')).map((f) => `js/${f}`)];
  let raw = 0;
  let gz = 0;
  for (const f of files) {
    const bytes = readFileSync(path.join(web, f));
    raw += bytes.length;
    gz += gzipSync(bytes, { level: 9 }).length;
  }
  console.log(`app shell: ${files.length} files, ${(raw / 1024).toFixed(1)} KiB, ${(gz / 1024).toFixed(1)} KiB gzipped (per file)`);
  // 60 KiB until end-to-end encryption (its module, devices, verification and
  // recovery screens) came in, 72 KiB until the integrations (API tokens and
  // webhooks dialogs); the crypto module is counted apart, below.
  assert.ok(gz < 78 * 1024, `${gz} bytes gzipped`);
  let wasm = 0;
  for (const f of readdirSync(path.join(web, 'crypto'))) {
    wasm += gzipSync(readFileSync(path.join(web, 'crypto', f)), { level: 9 }).length;
  }
  console.log(`crypto module: ${(wasm / 1024).toFixed(1)} KiB gzipped`);
  assert.ok(wasm < 448 * 1024, `crypto module: ${wasm} bytes gzipped`);
});
