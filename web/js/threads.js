// Threads: the panel beside the room (the root, its replies, a reply box
// with "also send to the room", follow/unfollow), and the list of threads
// you follow with their unread replies. Replies are messages in the room's
// stream (state.js keeps them); the panel shows those whose `thread` is its
// root, after loading the whole thread once.

import { api, explain } from './api.js';
import { el, fullTime } from './format.js';
import { displayName } from './people.js';
import { messageItem } from './messages.js';
import { Keyed } from './keyed.js';
import { alertDialog } from './dialogs.js';

const $ = (id) => document.getElementById(id);

export class Threads {
  constructor(state, hooks) {
    this.state = state;
    this.hooks = hooks; // {send(room, body, thread, alsoRoom), openRoom(id), actions}
    this.keyed = new Keyed($('thread-messages'));
    this.loaded = new Set(); // root ids whose replies were fetched
    $('thread-close').addEventListener('click', () => this.close());
    $('thread-follow').addEventListener('click', () => this.toggleFollow());
    $('thread-form').addEventListener('submit', (e) => { e.preventDefault(); this.reply(); });
    $('thread-input').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); this.reply(); }
      if (e.key === 'Escape') { e.preventDefault(); this.close(); }
    });
    $('threads-close').addEventListener('click', () => this.hooks.openRoom(state.current ?? state.general()));
  }

  // Threads you follow (GET /api/threads), with their unread replies.
  async refresh() {
    try {
      const { threads } = await api('GET', '/api/threads');
      this.state.followed = new Map(threads.map((t) => [t.root.id, { room: t.room, unread: t.unread, root: t.root }]));
      this.state.changed();
      return threads;
    } catch { return null; }
  }

  // A `thread` frame: follow state or read mark changed.
  onState(st) {
    const known = this.state.followed.get(st.root);
    if (!st.following) this.state.followed.delete(st.root);
    else if (!known) this.refresh();
    const t = this.state.thread;
    if (t && t.root === st.root) { t.following = st.following; this.state.changed(); }
  }

  // A live reply: counts as unread in a followed thread unless it is open.
  onReply(ev) {
    const t = this.state.followed.get(ev.thread);
    const open = this.state.thread && this.state.thread.root === ev.thread && !document.hidden;
    if (open) this.markRead(ev.room, ev.thread, ev.seq);
    else if (t && ev.from !== this.state.me.username) t.unread = (t.unread || 0) + 1;
    return Boolean(t) && !open;
  }

  async open(room, root) {
    const r = this.state.room(room);
    if (!r) return;
    this.state.thread = { room, root, following: false };
    $('thread-panel').hidden = false;
    document.body.classList.add('thread-open');
    this.state.changed();
    try {
      const t = await api('GET', `/api/rooms/${room}/threads/${root}`);
      // The root may have been asked for by a reply's id.
      this.state.thread = { room, root: t.root.id, following: t.following };
      for (const ev of [t.root, ...t.replies]) {
        if (!r.events.has(ev.seq)) { r.events.set(ev.seq, ev); r.byId.set(ev.id, ev); r.dirty = true; }
      }
      this.loaded.add(t.root.id);
      const last = t.replies[t.replies.length - 1];
      if (last) this.markRead(room, t.root.id, last.seq);
      this.state.changed();
      $('thread-input').focus();
    } catch (e) {
      this.close();
      alertDialog(explain(e));
    }
  }

  close() {
    this.state.thread = null;
    $('thread-panel').hidden = true;
    document.body.classList.remove('thread-open');
    this.state.changed();
    $('message-input').focus();
  }

  markRead(room, root, seq) {
    const t = this.state.followed.get(root);
    if (t) t.unread = 0;
    api('POST', `/api/rooms/${room}/threads/${root}/read`, { seq }).catch(() => { /* next time */ });
  }

  async toggleFollow() {
    const t = this.state.thread;
    if (!t) return;
    try {
      const st = await api(t.following ? 'DELETE' : 'PUT', `/api/rooms/${t.room}/threads/${t.root}/follow`);
      this.onState(st);
    } catch (e) { alertDialog(explain(e)); }
  }

  reply() {
    const t = this.state.thread;
    const body = $('thread-input').value;
    if (!t || !body.trim()) return;
    this.hooks.send(t.room, body, t.root, $('thread-also').checked);
    $('thread-input').value = '';
    $('thread-also').checked = false;
  }

  render(actions) {
    const t = this.state.thread;
    $('thread-panel').hidden = !t;
    if (!t) return;
    const r = this.state.room(t.room);
    if (!r) { this.close(); return; }
    const where = r.info.kind === 'dm' ? `@${displayName(this.state, r.info.name)}` : `#${r.info.name}`;
    if ($('thread-where').textContent !== where) $('thread-where').textContent = where;
    const follow = t.following ? 'Unfollow' : 'Follow';
    if ($('thread-follow').textContent !== follow) $('thread-follow').textContent = follow;
    $('thread-follow').setAttribute('aria-pressed', String(t.following));
    $('thread-also-label').textContent = `Also send to ${where}`;
    const root = r.byId.get(t.root);
    const replies = this.state.sorted(r).filter((ev) => ev.type === 'message' && ev.thread === t.root);
    const items = [];
    if (root) {
      items.push({ key: `t:${root.id}`, sig: `${root.version || 0}`, make: () => messageItem(this.state, root, false, false, false, actions, true) });
      items.push({ key: 'count', sig: String(replies.length), make: () => el('li', { class: 'day', text: `${replies.length} ${replies.length === 1 ? 'reply' : 'replies'}` }) });
    }
    for (const ev of replies) items.push({ key: `t:${ev.id}`, sig: `${ev.version || 0}`, make: () => messageItem(this.state, ev, false, false, false, actions, true) });
    for (const [id, p] of r.pending) {
      if (p.thread !== t.root) continue;
      items.push({ key: `p:${id}`, sig: p.status, make: () => el('li', { class: 'message mine pending' }, el('div'), el('div', { class: 'content' }, el('div', { class: 'body', dir: 'auto', text: p.body }), el('span', { class: 'state', text: p.status === 'failed' ? `not sent: ${p.error}` : 'sending…' }))) });
    }
    this.keyed.update(items);
  }

  // The Threads view: followed threads, most recent reply first.
  async showList() {
    this.state.view = 'threads';
    this.state.changed();
    $('threads-status').textContent = 'Loading…';
    const threads = await this.refresh();
    if (!threads) { $('threads-status').textContent = 'Could not load your threads.'; return; }
    $('threads-status').textContent = threads.length ? '' : 'No threads yet. Reply to a message to start one; you follow the threads you start, reply in or are mentioned in.';
    $('threads-list').replaceChildren(...threads.map((t) => {
      const r = this.state.room(t.room);
      const where = r ? (r.info.kind === 'dm' ? `@${displayName(this.state, r.info.name)}` : `#${r.info.name}`) : '';
      const s = t.root.replies || { count: 0, users: [] };
      return el('li', {}, el('button', { type: 'button', 'data-thread': String(t.root.id),
        onclick: () => { this.hooks.openRoom(t.room); this.open(t.room, t.root.id); } },
      el('span', { class: 'where' }, el('b', { text: displayName(this.state, t.root.from) }), el('span', { text: where }),
        s.last_ts ? el('time', { datetime: s.last_ts, text: `last reply ${fullTime(s.last_ts)}` }) : null),
      el('span', { class: 'snippet', dir: 'auto', text: t.root.deleted ? 'message deleted' : t.root.body.slice(0, 300) }),
      el('span', { class: 'where' }, el('span', { text: `${s.count} ${s.count === 1 ? 'reply' : 'replies'}` }),
        t.unread ? el('b', { class: 'unread-count', text: `${t.unread} unread` }) : null)));
    }));
  }
}
