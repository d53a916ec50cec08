// The open room's messages: grouped by sender, with day separators, the
// "new messages" line, and a window over the room's events so that a room
// of any length keeps a few hundred elements in the page.
//
// The window is `r.view = {end, size}`: the `size` events up to seq `end`
// (`end` null: the newest, following new messages). Scrolling near the top
// grows it (or slides it up, past MAX); near the bottom it slides down
// again. The element at the top of the screen stays where it was, so the
// reader never sees a jump.

import { el, richText, timeOf, fullTime, dayOf } from './format.js';
import { attachment } from './uploads.js';
import { avatar, displayName, looks } from './people.js';
import { Keyed } from './keyed.js';
import { introItem } from './intro.js';
import { reactionRow } from './reactions.js';
import { State } from './state.js';

export const WINDOW = 120;
const MAX_WINDOW = 240;
const STEP = 60;
const GROUP_MS = 5 * 60 * 1000;
const EDGE_PX = 300;

const $ = (id) => document.getElementById(id);
let keyed = null;

// Index just past the last event with seq <= `seq`.
function upperBound(events, seq) {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (events[mid].seq <= seq) lo = mid + 1; else hi = mid;
  }
  return lo;
}

function span(state, r) {
  const all = state.sorted(r);
  const end = r.view.end === null ? all.length : upperBound(all, r.view.end);
  const size = r.view.size || WINDOW;
  return { all, start: Math.max(0, end - size), end };
}

// Near the top: show older events. False when every loaded event shows
// (then older ones must come from the server).
export function showOlder(state, r) {
  const { all, start, end } = span(state, r);
  if (start === 0) return false;
  const size = r.view.size || WINDOW;
  if (size + STEP <= MAX_WINDOW) r.view.size = size + STEP;
  else r.view = { end: all[Math.max(0, end - STEP) - 1]?.seq ?? all[0].seq, size: MAX_WINDOW };
  state.changed();
  return true;
}

// Shows the message at `seq` (loaded already): the window ends a little
// after it, and the list scrolls to it.
export function showAt(state, r, seq) {
  const all = state.sorted(r);
  const after = Math.min(all.length, upperBound(all, seq) + 20);
  r.view = { end: after >= all.length ? null : all[after - 1].seq, size: WINDOW };
  r.found = seq;
  $('messages').dataset.scrollTo = String(seq);
  state.changed();
}

// Near the bottom of a window that is not at the newest: slide down.
export function showNewer(state, r) {
  if (r.view.end === null) return false;
  const { all, end } = span(state, r);
  const next = end + STEP;
  r.view = next >= all.length ? { end: null, size: r.view.size } : { end: all[next - 1].seq, size: r.view.size };
  state.changed();
  return true;
}

export function jumpToLatest(state, r) {
  r.view = { end: null, size: WINDOW };
  r.unseen = 0;
  $('messages').dataset.toBottom = '1';
  state.changed();
}

export function nearTop(list) { return list.scrollTop < EDGE_PX; }
export function nearBottom(list, px = EDGE_PX) { return list.scrollHeight - list.scrollTop - list.clientHeight < px; }

// User-supplied parts of a notice each in their own <bdi>, so a direction
// override in a topic cannot flip the words around it.
function notice(state, ev) {
  const iso = (text) => el('bdi', { text });
  const who = (u) => iso(displayName(state, u));
  switch (ev.type) {
    case 'member': {
      if (ev.action === 'invite' || ev.action === 'remove') {
        return [who(ev.user), ` was ${ev.action === 'invite' ? 'invited' : 'removed'} by `, who(ev.by)];
      }
      return [who(ev.user), ev.action === 'join' ? ' joined' : ' left'];
    }
    case 'room_updated':
      return [who(ev.by), ' set the room to #', iso(ev.name), ...(ev.topic ? [' — ', iso(ev.topic)] : [])];
    default:
      return null;
  }
}

function editor(ev, actions) {
  const box = el('textarea', { 'aria-label': 'Edit message', rows: String(Math.min(8, ev.body.split('\n').length + 1)) });
  box.value = ev.body;
  box.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); actions.saveEdit(ev, box.value); }
    if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); actions.cancelEdit(); }
  });
  queueMicrotask(() => { box.focus(); box.setSelectionRange(box.value.length, box.value.length); });
  return el('div', { class: 'editor' }, box,
    el('p', { class: 'hint' }, 'Enter to save · Esc to cancel · ',
      el('button', { type: 'button', class: 'link', text: 'save', onclick: () => actions.saveEdit(ev, box.value) }), ' · ',
      el('button', { type: 'button', class: 'link', text: 'cancel', onclick: () => actions.cancelEdit() })));
}

function gutter(state, from, cont, ts, actions) {
  if (cont) return el('div', { class: 'gutter' }, el('time', { datetime: ts, title: fullTime(ts), text: timeOf(ts) }));
  return el('div', { class: 'gutter' }, el('button', {
    type: 'button', class: 'avatar-button', tabindex: '-1', 'aria-hidden': 'true',
    onclick: () => actions.showUser(from),
  }, avatar(state, from)));
}

function header(state, from, ts, actions) {
  const name = displayName(state, from);
  return el('div', { class: 'meta' },
    el('button', { type: 'button', class: 'from', title: `@${from}`, text: name, onclick: () => actions.showUser(from) }),
    state.people.get(from)?.is_bot ? el('span', { class: 'tag', text: 'bot' }) : null,
    ts ? el('time', { datetime: ts, title: fullTime(ts), text: timeOf(ts) }) : null);
}

// "3 replies · last 14:02 · ann, bob": opens the thread.
function threadSummary(state, ev, actions) {
  const t = ev.replies;
  const who = t.users.map((u) => displayName(state, u)).join(', ');
  return el('button', {
    type: 'button', class: 'thread-summary', 'data-thread': String(ev.id),
    onclick: () => actions.openThread(ev.room, ev.id),
  }, el('span', { class: 'avatars', 'aria-hidden': 'true' }, ...t.users.slice(0, 3).map((u) => avatar(state, u, 'small'))),
  el('b', { text: `${t.count} ${t.count === 1 ? 'reply' : 'replies'}` }),
  el('span', { class: 'muted', text: ` · last ${timeOf(t.last_ts)} · ${who}` }));
}

function tools(state, ev, mine, actions) {
  const bar = el('div', { class: 'actions', role: 'group', 'aria-label': 'Message actions' });
  const add = (text, label, onclick) => bar.append(el('button', { type: 'button', class: 'secondary', 'aria-label': label, title: label, text, onclick }));
  add('☺+', 'Add reaction', (e) => actions.pickReaction(ev, e.currentTarget));
  add('Reply', 'Reply in thread', () => actions.openThread(ev.room, ev.thread || ev.id));
  add(ev.pinned ? 'Unpin' : 'Pin', ev.pinned ? 'Unpin message' : 'Pin message', () => actions.pin(ev, !ev.pinned));
  add('Link', 'Copy link to message', () => actions.copyLink(ev));
  if (mine) add('Edit', 'Edit message', () => actions.edit(ev));
  if (mine || (state.me && state.me.is_admin)) add('Delete', 'Delete message', () => actions.remove(ev));
  return bar;
}

// `inThread`: drawn in the thread panel (no "replied in a thread" link,
// no summary).
export function messageItem(state, ev, cont, editing, found, actions, inThread = false) {
  const me = state.me ? state.me.username : '';
  const mine = ev.from === me;
  const content = el('div', { class: 'content' });
  if (!cont) content.append(header(state, ev.from, ev.ts, actions));
  if (ev.thread && ev.also_room && !inThread) {
    content.append(el('button', { type: 'button', class: 'link in-thread', text: 'replied in a thread', onclick: () => actions.openThread(ev.room, ev.thread) }));
  }
  if (editing) content.append(editor(ev, actions));
  else {
    const body = el('div', { class: 'body', dir: 'auto' });
    if (ev.deleted) body.textContent = 'message deleted';
    else body.append(richText(ev.body, me));
    content.append(body);
    if (ev.edited && !ev.deleted) content.append(el('span', { class: 'state', text: '(edited)' }));
    if (ev.pinned && !ev.deleted) content.append(el('span', { class: 'state pinned', text: ' 📌 pinned' }));
  }
  if (!ev.deleted && ev.file) content.append(attachment(ev.file, actions.openImage));
  if (!ev.deleted && ev.reactions && ev.reactions.length) content.append(reactionRow(state, ev, actions));
  if (ev.replies && ev.replies.count > 0 && !ev.thread && !inThread) content.append(threadSummary(state, ev, actions));
  const li = el('li', {
    class: `message${cont ? ' cont' : ''}${mine ? ' mine' : ''}${ev.deleted ? ' deleted' : ''}${found ? ' found' : ''}${state.mentionsMe(ev) ? ' mentioned' : ''}`,
    'data-seq': String(ev.seq), 'data-id': String(ev.id),
  }, gutter(state, ev.from, cont, ev.ts, actions), content);
  if (!ev.deleted && !editing && state.me) li.append(tools(state, ev, mine, actions));
  return li;
}

function pendingLabel(p) {
  if (p.status === 'waiting') return `rate limited — resending in ${Math.max(0, Math.ceil((p.until - Date.now()) / 1000))}s`;
  if (p.status === 'failed') return `not sent: ${p.error}`;
  if (p.status === 'queued') return 'waiting for the connection — will be sent';
  return 'sending…';
}

function pendingItem(state, room, id, p, actions) {
  const me = state.me ? state.me.username : '';
  const meta = header(state, me, null, actions);
  meta.append(el('span', { class: 'state', text: pendingLabel(p) }));
  const li = el('li', { class: `message mine pending ${p.status}`, 'data-pending': id },
    gutter(state, me, false, null, actions),
    el('div', { class: 'content' }, meta, el('div', { class: 'body', dir: 'auto' }, richText(p.body, me))));
  // A refused message keeps its text: send it again, take it back into the
  // box to change it, or let it go.
  if (p.status === 'failed') {
    li.append(el('div', { class: 'actions always' },
      el('button', { type: 'button', class: 'secondary', text: 'Retry', onclick: () => actions.retryPending(room, id) }),
      el('button', { type: 'button', class: 'secondary', text: 'Edit', 'aria-label': 'Edit unsent message', onclick: () => actions.editPending(room, id) }),
      el('button', { type: 'button', class: 'secondary', text: 'Discard', onclick: () => actions.discardPending(room, id) })));
  }
  return li;
}

function wantedItems(state, r, actions) {
  const items = [];
  const { all, start, end } = span(state, r);
  const isAdmin = Boolean(state.me && state.me.is_admin);
  const me = state.me ? state.me.username : '';
  if (start === 0 && !r.more) items.push(introItem(state, r, all, actions));
  let day = null;
  let prev = null;
  for (let i = start; i < end; i++) {
    const ev = all[i];
    // Removed by the room's retention policy: nothing to show.
    if (ev.expired) continue;
    // Worked out once per event: its day and time in milliseconds.
    if (ev.day === undefined) { ev.day = dayOf(ev.ts); ev.ms = Date.parse(ev.ts); }
    const d = ev.day;
    if (d !== day) {
      items.push({ key: `d:${d}`, sig: d, make: () => el('li', { class: 'day', text: d }) });
      day = d;
      prev = null;
    }
    if (r.marker !== null && ev.seq > r.marker && (i === 0 || all[i - 1].seq <= r.marker) && ev.from !== me) {
      items.push({ key: 'unread', sig: String(r.marker), make: () => el('li', { class: 'unread-line', id: 'unread-line', text: 'New messages' }) });
      prev = null;
    }
    const parts = notice(state, ev);
    if (parts) {
      const sig = JSON.stringify([ev.type, ev.seq, looks(state, ev.user || ev.by || '')]);
      items.push({ key: `s:${ev.seq}`, sig, make: () => el('li', { class: 'notice', 'data-seq': String(ev.seq) }, ...notice(state, ev)) });
      prev = null;
    } else if (ev.type === 'message' && State.inRoom(ev)) {
      const cont = Boolean(prev && prev.from === ev.from && ev.ms - prev.ms < GROUP_MS);
      const editing = Boolean(state.editing && state.editing.id === ev.id && !ev.deleted);
      // `version` counts the edits and the deletion (see state.js).
      const found = r.found === ev.seq;
      const sig = `${ev.version || 0}|${isAdmin}|${cont}|${editing}|${found}|${looks(state, ev.from)}`;
      items.push({ key: `s:${ev.seq}`, sig, make: () => messageItem(state, ev, cont, editing, found, actions) });
      prev = ev;
    }
  }
  if (r.view.end === null) {
    for (const [id, p] of r.pending) {
      if (p.thread && !p.also_room) continue;
      const sig = JSON.stringify([p.body, p.status, p.error || '', pendingLabel(p), looks(state, me)]);
      items.push({ key: `p:${id}`, sig, make: () => pendingItem(state, r.info.id, id, p, actions) });
    }
  }
  return items;
}

// The first event at least partly on screen, and how far below the top.
// (Not a day separator: it stays first while older events come in above.)
function anchorOf(list) {
  const top = list.scrollTop;
  for (const node of list.children) {
    if (node.dataset.seq && node.offsetTop + node.offsetHeight > top) return { key: `s:${node.dataset.seq}`, delta: node.offsetTop - top };
  }
  return null;
}

export function renderMessages(state, actions) {
  const list = $('messages');
  if (!keyed) keyed = new Keyed(list);
  const r = state.room(state.current);
  const same = r && list.dataset.room === String(r.info.id);
  if (!same) keyed.clear();
  if (!r) { list.dataset.room = ''; $('jump-button').hidden = true; return; }
  const t0 = performance.now();
  const following = r.view.end === null;
  const atBottom = same && following && nearBottom(list, 40);
  const anchor = same && !atBottom ? anchorOf(list) : null;
  keyed.update(wantedItems(state, r, actions));
  const target = list.dataset.scrollTo && keyed.node(`s:${list.dataset.scrollTo}`);
  if (target) {
    // A search result: the message a third of the way down the screen.
    list.scrollTop = Math.max(0, target.offsetTop - list.clientHeight / 3);
    list.dataset.scrollTo = '';
  } else if (!same) {
    // A room opened: at the "new messages" line if there is one, else at
    // the newest.
    const line = keyed.node('unread');
    list.scrollTop = line ? Math.max(0, line.offsetTop - list.clientHeight / 3) : list.scrollHeight;
  } else if (list.dataset.toBottom === '1' || atBottom) {
    list.scrollTop = list.scrollHeight;
  } else if (anchor && keyed.node(anchor.key)) {
    // By key: the element may have been remade (its grouping changed).
    list.scrollTop = keyed.node(anchor.key).offsetTop - anchor.delta;
  }
  list.dataset.toBottom = '';
  list.dataset.room = String(r.info.id);
  // Remembered for content that grows after rendering (image previews).
  list.dataset.stick = following && nearBottom(list, 40) ? '1' : '';
  if (list.dataset.stick === '1') r.unseen = 0;
  updateJump(r, list);
  // Render times, for the browser tests' records (the last 2,000 kept).
  performance.measure('securechat:render', { start: t0 });
  measured += 1;
  if (measured % 2000 === 0) performance.clearMeasures('securechat:render');
}
let measured = 0;

export function updateJump(r, list) {
  const jump = $('jump-button');
  const away = r.view.end !== null || !nearBottom(list, list.clientHeight);
  jump.hidden = !away && !r.unseen;
  const text = r.unseen ? `${r.unseen} new ${r.unseen === 1 ? 'message' : 'messages'} — jump to latest` : 'Jump to latest';
  if (jump.textContent !== text) jump.textContent = text;
}
