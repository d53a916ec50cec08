// The service worker keeps every module of the app shell (a module left
// out breaks the app offline, and only there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';

test('the service worker caches every script of the app', () => {
  const sw = readFileSync(new URL('../../web/sw.js', import.meta.url), 'utf8');
  const modules = readdirSync(new URL('../../web/js/', import.meta.url)).filter((f) => f.endsWith('.js'));
  assert.ok(modules.length > 20);
  for (const m of modules) assert.ok(sw.includes(`'/app/js/${m}'`), `${m} is missing from web/sw.js`);
});
