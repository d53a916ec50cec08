// Reactions: the row of counts under a message (each a toggle: pressed
// when you reacted; who reacted is in its label and title), and the
// built-in emoji picker (search by name, quick picks, keyboard-usable).

import { api, explain } from './api.js';
import { el } from './format.js';
import { displayName } from './people.js';
import { alertDialog } from './dialogs.js';
import { QUICK, searchEmoji, nameOf } from './emoji.js';

const $ = (id) => document.getElementById(id);

function names(state, users) {
  const list = users.map((u) => displayName(state, u));
  return list.length <= 1 ? list.join('') : `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}`;
}

export function reactionRow(state, ev, actions) {
  const me = state.me ? state.me.username : '';
  return el('div', { class: 'reactions' }, ...ev.reactions.map((r) => {
    const mine = r.users.includes(me);
    const who = names(state, r.users);
    return el('button', {
      type: 'button', class: `reaction${mine ? ' mine' : ''}`, 'aria-pressed': String(mine),
      'aria-label': `${nameOf(r.emoji)} ${r.users.length}, by ${who}${mine ? '. Remove yours' : '. Add yours'}`,
      title: `${r.emoji} by ${who}`, 'data-emoji': r.emoji,
      onclick: () => actions.react(ev, r.emoji, !mine),
    }, el('span', { text: r.emoji }), el('span', { class: 'count', text: String(r.users.length) }));
  }));
}

// Adds or removes your reaction (the event that comes back updates the view).
export async function react(ev, emoji, add) {
  const path = `/api/rooms/${ev.room}/messages/${ev.id}/reactions/${encodeURIComponent(emoji)}`;
  try { await api(add ? 'PUT' : 'DELETE', path); } catch (e) { alertDialog(explain(e)); }
}

// The picker: a dialog with a search box and a grid; choosing closes it.
export class EmojiPicker {
  constructor() {
    this.target = null;
    this.opener = null;
    $('emoji-search').addEventListener('input', () => this.fill());
    $('emoji-search').addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { e.preventDefault(); const first = $('emoji-grid').querySelector('button'); if (first) first.click(); }
    });
    $('emoji-dialog').addEventListener('close', () => { if (this.opener && this.opener.isConnected) this.opener.focus(); });
    $('emoji-quick').replaceChildren(...QUICK.map((e) => this.button([e, nameOf(e)])));
  }

  button([emoji, name]) {
    return el('button', { type: 'button', class: 'emoji', 'aria-label': name, title: name, text: emoji,
      onclick: () => { $('emoji-dialog').close(); if (this.target) react(this.target, emoji, true); } });
  }

  fill() {
    const found = searchEmoji($('emoji-search').value);
    $('emoji-grid').replaceChildren(...found.map((e) => this.button(e)));
    $('emoji-none').hidden = found.length > 0;
  }

  open(ev, opener) {
    this.target = ev;
    this.opener = opener;
    $('emoji-search').value = '';
    this.fill();
    $('emoji-dialog').showModal();
    $('emoji-search').focus();
  }
}

