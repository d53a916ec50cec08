// Turning message data into DOM nodes. User text only ever becomes text
// nodes (message bodies through the parse tree of markup.js); links are made
// for http(s) URLs only, never for other schemes.

import { parse } from './markup.js';

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

// A safe link for an http(s) URL (anything else stays text).
function link(url) {
  let ok = false;
  try { ok = ['http:', 'https:'].includes(new URL(url).protocol); } catch { ok = false; }
  return ok ? el('a', { href: url, rel: 'noopener noreferrer', target: '_blank', text: url }) : document.createTextNode(url);
}

// Inline nodes of the parse tree as DOM: text nodes and a few elements,
// never markup from the text. `me` highlights mentions of the reader.
function inlines(nodes, me) {
  const frag = document.createDocumentFragment();
  for (const n of nodes) {
    if (typeof n === 'string') { frag.append(document.createTextNode(n)); continue; }
    switch (n.t) {
      case 'b': frag.append(el('strong', {}, inlines(n.c, me))); break;
      case 'i': frag.append(el('em', {}, inlines(n.c, me))); break;
      case 's': frag.append(el('del', {}, inlines(n.c, me))); break;
      case 'code': frag.append(el('code', { text: n.text })); break;
      case 'a': frag.append(link(n.href)); break;
      // A line break is a newline in a pre-wrap paragraph (copied as one).
      case 'br': frag.append(document.createTextNode('\n')); break;
      case 'at': {
        const you = n.name === me || n.name === 'room' || n.name === 'here';
        frag.append(el('span', { class: `mention${you ? ' you' : ''}`, text: `@${n.name}` }));
        break;
      }
      default: break;
    }
  }
  return frag;
}

// A message body (docs/formatting.md) as DOM nodes.
export function richText(body, me = '') {
  const frag = document.createDocumentFragment();
  for (const b of parse(body)) {
    switch (b.t) {
      case 'p': frag.append(el('p', {}, inlines(b.c, me))); break;
      case 'quote': frag.append(el('blockquote', {}, inlines(b.c, me))); break;
      case 'pre': frag.append(el('pre', { tabindex: '0', 'data-lang': b.lang || null, 'aria-label': b.lang ? `${b.lang} code` : 'code' }, el('code', { text: b.text }))); break;
      case 'ul': frag.append(el('ul', {}, ...b.items.map((it) => el('li', {}, inlines(it, me))))); break;
      case 'ol': frag.append(el('ol', { start: String(b.start) }, ...b.items.map((it) => el('li', {}, inlines(it, me))))); break;
      default: break;
    }
  }
  return frag;
}

export function timeOf(ts) {
  return new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function fullTime(ts) {
  return new Date(ts).toLocaleString();
}

// Day labels, formatted once per day (formatting is the costly part).
const days = new Map();

export function dayOf(ts) {
  const d = new Date(ts);
  const key = d.getFullYear() * 10000 + d.getMonth() * 100 + d.getDate();
  let label = days.get(key);
  if (!label) {
    label = d.toLocaleDateString([], { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
    days.set(key, label);
  }
  return label;
}
