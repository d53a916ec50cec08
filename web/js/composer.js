// The message box: Enter sends, Shift+Enter adds a line, ↑ in an empty box
// edits your last message; it grows with its lines (up to a third of the
// screen, then scrolls); what is typed is a draft of the open room, kept
// per room across reloads.

import { draftKey } from './offline.js';

const $ = (id) => document.getElementById(id);

export class Composer {
  constructor(state, hooks) {
    this.state = state;
    this.hooks = hooks; // {send(room, body), typing(room), editLast()}
    this.input = $('message-input');
    this.room = null;   // the room whose draft is in the box
    this.lastTyping = 0;
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); this.send(); }
      if (e.key === 'ArrowUp' && !this.input.value && !e.shiftKey) {
        if (this.hooks.editLast()) e.preventDefault();
      }
    });
    this.input.addEventListener('input', () => {
      this.fit();
      this.save();
      const room = this.state.current;
      if (room && Date.now() - this.lastTyping > 2000) { this.lastTyping = Date.now(); this.hooks.typing(room); }
    });
    $('composer').addEventListener('submit', (e) => { e.preventDefault(); this.send(); });
  }

  key(room) { return draftKey(this.state.me ? this.state.me.id : 0, room); }

  fit() {
    this.input.style.height = 'auto';
    this.input.style.height = `${this.input.scrollHeight + 2}px`;
  }

  save() {
    if (!this.room) return;
    const text = this.input.value;
    try {
      if (text) localStorage.setItem(this.key(this.room), text);
      else localStorage.removeItem(this.key(this.room));
    } catch { /* storage full or off: the draft just is not kept */ }
  }

  // The open room changed: keep the old room's draft, bring the new one's.
  switchTo(room) {
    if (this.room === room) return;
    this.save();
    let text = '';
    try { text = localStorage.getItem(this.key(room)) || ''; } catch { /* off */ }
    this.input.value = text;
    this.room = room;
    this.fit();
  }

  // Puts `text` in the box (an unsent message taken back to edit).
  fill(text) {
    this.input.value = text;
    this.fit();
    this.save();
    this.input.focus();
  }

  send() {
    const body = this.input.value;
    const room = this.state.current;
    if (!body.trim() || !room) return;
    this.hooks.send(room, body);
    this.input.value = '';
    this.fit();
    this.save();
  }
}
