// Search: the box in the header, results in the main area (the matched
// words highlighted, as text), and a click opens the room at that message.

import { api, explain } from './api.js';
import { el, fullTime } from './format.js';
import { displayName } from './people.js';

const $ = (id) => document.getElementById(id);
const PAGE = 20;

// The server marks matched words with U+0002 … U+0003; they become <mark>
// elements holding text nodes, never markup.
export function snippetNodes(text) {
  const frag = document.createDocumentFragment();
  let marked = false;
  for (const part of text.split(/([\u0002\u0003])/)) {
    if (part === '\u0002') marked = true;
    else if (part === '\u0003') marked = false;
    else if (part) frag.append(marked ? el('mark', { text: part }) : document.createTextNode(part));
  }
  return frag;
}

export class SearchPage {
  constructor(state, { show, openAt, close }) {
    this.state = state;
    this.hooks = { show, openAt, close };
    this.query = '';
    this.offset = 0;
    $('search-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const q = $('search-input').value.trim();
      if (q) this.run(q);
    });
    $('search-order').addEventListener('change', () => { if (this.query) this.run(this.query); });
    $('search-more').addEventListener('click', () => this.fetch(true));
    $('search-close').addEventListener('click', () => this.hooks.close());
  }

  run(q) {
    this.query = q;
    this.offset = 0;
    $('search-results').replaceChildren();
    $('search-heading').textContent = `Results for “${q}”`;
    $('search-e2e-note').hidden = ![...this.state.rooms.values()].some((r) => r.info.encrypted);
    this.hooks.show();
    return this.fetch(false);
  }

  async fetch(more) {
    const status = $('search-status');
    const params = new URLSearchParams({ q: this.query, order: $('search-order').value, limit: String(PAGE), offset: String(this.offset) });
    status.textContent = 'Searching…';
    $('search-more').hidden = true;
    try {
      const res = await api('GET', `/api/search?${params}`);
      this.offset += res.results.length;
      $('search-results').append(...res.results.map((hit) => this.item(hit)));
      const n = $('search-results').children.length;
      status.textContent = n === 0 ? 'Nothing found. Try fewer words, a prefix* or another filter.'
        : `${n}${res.more ? '+' : ''} ${n === 1 ? 'message' : 'messages'} found`;
      $('search-more').hidden = !res.more;
      if (!more && n) $('search-results').querySelector('button').focus();
    } catch (e) {
      status.textContent = explain(e);
    }
  }

  item(hit) {
    const where = hit.room_kind === 'dm' ? `@${displayName(this.state, hit.room_name)}` : `#${hit.room_name}`;
    return el('li', {}, el('button', {
      type: 'button', 'data-hit': String(hit.id),
      onclick: () => this.hooks.openAt(hit.room, hit.seq),
    },
    el('span', { class: 'where' }, el('b', { text: displayName(this.state, hit.from) }), el('span', { text: where }),
      el('time', { datetime: hit.ts, text: fullTime(hit.ts) }), hit.file ? el('span', { text: '· file' }) : null),
    el('span', { class: 'snippet', dir: 'auto' }, snippetNodes(hit.snippet))));
  }
}
