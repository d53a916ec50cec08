// The web app's formatting parser (web/js/markup.js) against the cases the
// Rust parser (crates/proto/src/markup.rs) is checked with, and hostile
// input: random markup soup never throws, never shows more than was typed,
// and long runs stay fast (the parser is linear).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse, MAX_DEPTH } from '../../web/js/markup.js';

const cases = JSON.parse(readFileSync(new URL('../markup/cases.json', import.meta.url), 'utf8'));

test('the shared cases parse as in Rust', () => {
  assert.ok(cases.length >= 20);
  for (const c of cases) assert.deepEqual(parse(c.in), c.out, JSON.stringify(c.in));
});

function shown(inlines, depth = 0) {
  let n = 0;
  assert.ok(depth <= MAX_DEPTH + 1);
  for (const i of inlines) {
    if (typeof i === 'string') n += [...i].length;
    else if (i.c) { assert.ok(i.c.length > 0); n += shown(i.c, depth + 1); }
    else if (i.t === 'code') n += [...i.text].length;
    else if (i.t === 'a') { assert.match(i.href, /^https?:\/\/\S+$/); n += [...i.href].length; }
    else if (i.t === 'at') n += i.name.length + 1;
    else if (i.t === 'br') n += 1;
  }
  return n;
}

test('random markup never throws and never shows more than was typed', () => {
  const alphabet = ['*', '**', '_', '~~', '~', '`', '```', '\n', '> ', '- ', '1. ', '\\', '@ann', '@', 'https://x.io/(a)', ' ', 'a', 'é', '👍', '<b>', '\r\n'];
  let seed = 42;
  const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  for (let k = 0; k < 3000; k++) {
    let s = '';
    const len = rand(40);
    for (let j = 0; j < len; j++) s += alphabet[rand(alphabet.length)];
    let n = 0;
    for (const b of parse(s)) {
      if (b.t === 'pre') n += [...b.text].length;
      else if (b.items) for (const it of b.items) n += shown(it);
      else n += shown(b.c);
    }
    assert.ok(n <= [...s].length, JSON.stringify(s));
  }
});

test('pathological input stays linear', () => {
  const inputs = ['*a ', '**', '`', '_a_', '~~x', '> ', '@a', 'h', '\\'].map((u) => u.repeat(20000))
    .concat(['.', ')', '(', 'a'].map((t) => `https://x.io/${t.repeat(60000)}`));
  for (const s of inputs) {
    const t = Date.now();
    parse(s);
    assert.ok(Date.now() - t < 2000, s.slice(0, 12));
  }
});
