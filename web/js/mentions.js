// Mentions: `@name` completion in a message box (a listbox under it,
// arrows to move, Enter or Tab to choose, Esc to close), and the Mentions
// view (messages that mention you, newest first).

import { api, explain } from './api.js';
import { el, fullTime } from './format.js';
import { avatar, displayName } from './people.js';

const $ = (id) => document.getElementById(id);
const MAX = 8;
// `@` at the start of a word, then the name typed so far, up to the caret.
const TYPED = /(^|[^A-Za-z0-9._@-])@([A-Za-z0-9._-]*)$/;

export class MentionBox {
  // `input` is a textarea; `list` an empty <ul> for the suggestions;
  // `room()` the room being written in.
  constructor(state, input, list, room) {
    this.state = state;
    this.input = input;
    this.list = list;
    this.room = room;
    this.options = [];
    this.active = 0;
    this.asked = 0;
    this.members = new Map(); // room id -> {names: Promise, at}
    list.setAttribute('role', 'listbox');
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-controls', list.id);
    input.addEventListener('input', () => this.update());
    // Closed when focus has left the box (after a moment, so a click on
    // an option still lands; and not if focus came back meanwhile).
    input.addEventListener('blur', () => setTimeout(() => {
      if (document.activeElement !== this.input) this.close();
    }, 150));
    // Capture: runs before the box's own Enter-sends handler.
    input.addEventListener('keydown', (e) => this.key(e), true);
  }

  // The room's members, asked for at most once a minute (the same answer
  // serves every keystroke meanwhile).
  candidates(room) {
    const known = this.members.get(room);
    if (known && Date.now() - known.at < 60000) return known.names;
    const names = api('GET', `/api/rooms/${room}/members`).then((r) => r.members)
      .catch(() => {
        // Not kept: the next keystroke asks again.
        this.members.delete(room);
        return known ? known.names : [];
      });
    this.members.set(room, { names, at: Date.now() });
    return names;
  }

  async update() {
    const m = TYPED.exec(this.input.value.slice(0, this.input.selectionStart));
    const room = this.room();
    if (!m || !room) { this.asked += 1; this.close(); return; }
    const typed = m[2].toLowerCase();
    const me = this.state.me ? this.state.me.username : '';
    const asked = ++this.asked;
    const names = (await this.candidates(room)).filter((u) => u !== me);
    if (asked !== this.asked) return; // a later keystroke answers instead
    const match = (u) => u.startsWith(typed) || displayName(this.state, u).toLowerCase().startsWith(typed);
    const found = names.filter(match).sort().slice(0, MAX);
    for (const special of ['here', 'room']) if (special.startsWith(typed) && found.length < MAX) found.push(special);
    this.options = found;
    this.active = 0;
    this.draw();
  }

  draw() {
    if (!this.options.length) { this.close(); return; }
    this.list.hidden = false;
    this.list.replaceChildren(...this.options.map((u, i) => {
      const special = u === 'room' || u === 'here';
      const li = el('li', { id: `${this.list.id}-${i}`, role: 'option', 'aria-selected': String(i === this.active), 'data-name': u,
        onmousedown: (e) => { e.preventDefault(); this.choose(i); } },
      special ? el('span', { class: 'avatar small at', text: '@' }) : avatar(this.state, u, 'small'),
      el('span', { text: special ? `@${u}` : displayName(this.state, u) }),
      el('span', { class: 'muted', text: special ? (u === 'room' ? 'everyone in the room' : 'everyone in the room, now') : `@${u}` }));
      return li;
    }));
    this.input.setAttribute('aria-activedescendant', `${this.list.id}-${this.active}`);
  }

  close() {
    this.options = [];
    this.list.hidden = true;
    this.list.replaceChildren();
    this.input.removeAttribute('aria-activedescendant');
  }

  key(e) {
    if (!this.options.length) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      e.stopImmediatePropagation();
      const n = this.options.length;
      this.active = (this.active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
      this.draw();
    } else if ((e.key === 'Enter' && !e.shiftKey) || e.key === 'Tab') {
      e.preventDefault();
      e.stopImmediatePropagation();
      this.choose(this.active);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      e.stopImmediatePropagation();
      this.close();
    }
  }

  choose(i) {
    const name = this.options[i];
    const caret = this.input.selectionStart;
    const before = this.input.value.slice(0, caret).replace(/@[A-Za-z0-9._-]*$/, `@${name} `);
    this.input.value = before + this.input.value.slice(caret);
    this.input.setSelectionRange(before.length, before.length);
    this.close();
    this.input.dispatchEvent(new Event('input'));
    this.input.focus();
  }
}

// The Mentions view.
export class MentionsPage {
  constructor(state, hooks) {
    this.state = state;
    this.hooks = hooks; // {openAt(room, seq), close()}
    this.before = null;
    $('mentions-more').addEventListener('click', () => this.fetch());
    $('mentions-close').addEventListener('click', () => this.hooks.close());
  }

  async show() {
    this.state.view = 'mentions';
    this.state.changed();
    this.before = null;
    $('mentions-list').replaceChildren();
    await this.fetch();
  }

  async fetch() {
    const status = $('mentions-status');
    status.textContent = 'Loading…';
    $('mentions-more').hidden = true;
    try {
      const q = this.before ? `?before=${this.before}` : '';
      const res = await api('GET', `/api/mentions${q}`);
      $('mentions-list').append(...res.events.map((ev) => {
        const r = this.state.room(ev.room);
        const where = r ? (r.info.kind === 'dm' ? `@${displayName(this.state, r.info.name)}` : `#${r.info.name}`) : '';
        return el('li', {}, el('button', { type: 'button', 'data-mention': String(ev.id), onclick: () => this.hooks.openAt(ev.room, ev.seq) },
          el('span', { class: 'where' }, el('b', { text: displayName(this.state, ev.from) }), el('span', { text: where }),
            el('time', { datetime: ev.ts, text: fullTime(ev.ts) })),
          el('span', { class: 'snippet', dir: 'auto', text: ev.body.slice(0, 300) })));
      }));
      if (res.events.length) this.before = res.events[res.events.length - 1].id;
      const n = $('mentions-list').children.length;
      status.textContent = n ? '' : 'Nobody has mentioned you yet.';
      $('mentions-more').hidden = !res.more;
    } catch (e) { status.textContent = explain(e); }
  }
}
