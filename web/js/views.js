// Rendering: the sidebar, the header and the open room's messages. All
// user-provided text goes through textContent (see format.js).

import { el, richText, timeOf, fullTime, dayOf } from './format.js';
import { attachment } from './uploads.js';

const $ = (id) => document.getElementById(id);

export function render(state, actions) {
  renderHeader(state);
  renderSidebar(state, actions);
  renderMessages(state, actions);
  renderTyping(state);
  const unread = state.totalUnread();
  document.title = document.hidden && unread > 0 ? `(${unread}) SecureChat` : 'SecureChat';
}

function renderHeader(state) {
  const r = state.room(state.current);
  $('room-name').textContent = r ? (r.info.kind === 'dm' ? `@${r.info.name}` : `#${r.info.name}`) : 'SecureChat';
  $('room-topic').textContent = r && r.info.topic ? r.info.topic : '';
  const st = $('conn-status');
  const { state: s, detail } = state.status;
  st.textContent = s === 'connected' ? 'connected' : `${s}${detail ? ' ' + detail : ''}`;
  st.className = `status ${s}`;
  $('me-name').textContent = state.me ? state.me.username : '';
  const general = r && r.info.kind === 'public' && r.info.name === 'general';
  $('leave-button').hidden = !r || r.info.kind === 'dm' || general;
  $('invite-button').hidden = !r || r.info.kind === 'dm' || general;
}

function roomButton(state, r, actions, label, dot, isPrivate = false) {
  const current = state.current === r.info.id;
  const btn = el('button', {
    type: 'button',
    'aria-current': current ? 'true' : 'false',
    'data-room': String(r.info.id),
    onclick: () => actions.openRoom(r.info.id),
  });
  if (dot !== undefined) btn.append(el('span', { class: `dot${dot ? ' online' : ''}`, 'aria-hidden': 'true' }));
  btn.append(el('span', { class: 'name', text: label }));
  if (isPrivate) btn.append(el('span', { class: 'tag', text: 'private' }));
  const n = r.info.unread || 0;
  if (n > 0 && !current) btn.append(el('span', { class: 'badge', 'aria-label': `${n} unread`, text: String(n) }));
  return el('li', {}, btn);
}

function renderSidebar(state, actions) {
  const rooms = [...state.rooms.values()].sort((a, b) => a.info.name.localeCompare(b.info.name));
  $('room-list').replaceChildren(...rooms.filter((r) => r.info.kind !== 'dm')
    .map((r) => roomButton(state, r, actions, `# ${r.info.name}`, undefined, r.info.kind === 'private')));
  $('dm-list').replaceChildren(...rooms.filter((r) => r.info.kind === 'dm')
    .map((r) => roomButton(state, r, actions, r.info.name, state.online.has(r.info.name))));
  const people = state.users.filter((u) => !state.me || u.username !== state.me.username);
  $('user-list').replaceChildren(...people.map((u) => {
    const online = state.online.has(u.username);
    const btn = el('button', {
      type: 'button',
      'data-user': u.username,
      'aria-label': `Message ${u.username} (${online ? 'online' : 'offline'})`,
      title: online ? 'online' : (u.last_seen ? `last seen ${fullTime(u.last_seen)}` : 'never seen'),
      onclick: () => actions.openDm(u.username),
    }, el('span', { class: `dot${online ? ' online' : ''}`, 'aria-hidden': 'true' }), el('span', { text: u.username }));
    return el('li', {}, btn);
  }));
}

// User-supplied parts of a notice each in their own <bdi>, so a direction
// override in a topic cannot flip the words around it.
const iso = (text) => el('bdi', { text });

function notice(ev) {
  switch (ev.type) {
    case 'member': {
      if (ev.action === 'invite' || ev.action === 'remove') {
        return [iso(ev.user), ` was ${ev.action === 'invite' ? 'invited' : 'removed'} by `, iso(ev.by)];
      }
      return [iso(ev.user), ev.action === 'join' ? ' joined' : ' left'];
    }
    case 'room_updated':
      return [iso(ev.by), ' set the room to #', iso(ev.name), ...(ev.topic ? [' — ', iso(ev.topic)] : [])];
    default:
      return null;
  }
}

function messageItem(state, ev, actions) {
  const mine = state.me && ev.from === state.me.username;
  const time = el('time', { datetime: ev.ts, title: fullTime(ev.ts), text: timeOf(ev.ts) });
  const meta = el('div', { class: 'meta' }, el('span', { class: 'from', text: ev.from }), time);
  if (ev.edited && !ev.deleted) meta.append(el('span', { class: 'state', text: '(edited)' }));
  if (!ev.deleted && (mine || (state.me && state.me.is_admin))) {
    const tools = el('span', { class: 'actions' });
    if (mine) tools.append(el('button', { type: 'button', class: 'secondary', 'aria-label': 'Edit message', text: 'Edit', onclick: () => actions.edit(ev) }));
    tools.append(el('button', { type: 'button', class: 'secondary', 'aria-label': 'Delete message', text: 'Delete', onclick: () => actions.remove(ev) }));
    meta.append(tools);
  }
  const body = el('div', { class: 'body', dir: 'auto' });
  if (ev.deleted) body.textContent = 'message deleted';
  else body.append(richText(ev.body));
  const file = !ev.deleted && ev.file ? attachment(ev.file) : null;
  return el('li', { class: `message${mine ? ' mine' : ''}${ev.deleted ? ' deleted' : ''}`, 'data-seq': String(ev.seq), 'data-id': String(ev.id) }, meta, body, file);
}

function pendingLabel(p) {
  return p.status === 'waiting'
    ? `rate limited — resending in ${Math.max(0, Math.ceil((p.until - Date.now()) / 1000))}s`
    : p.status === 'failed' ? `not sent: ${p.error}` : 'sending…';
}

function pendingItem(state, id, p, actions) {
  const label = pendingLabel(p);
  const meta = el('div', { class: 'meta' }, el('span', { class: 'from', text: state.me ? state.me.username : '' }), el('span', { class: 'state', text: label }));
  // A refused message keeps its text: send it again, take it back into the
  // box to change it, or let it go.
  if (p.status === 'failed') {
    const room = state.current;
    meta.append(el('span', { class: 'actions' },
      el('button', { type: 'button', class: 'secondary', text: 'Retry', onclick: () => actions.retryPending(room, id) }),
      el('button', { type: 'button', class: 'secondary', text: 'Edit', 'aria-label': 'Edit unsent message', onclick: () => actions.editPending(room, id) }),
      el('button', { type: 'button', class: 'secondary', text: 'Discard', onclick: () => actions.discardPending(room, id) })));
  }
  return el('li', { class: `message mine pending ${p.status}`, 'data-pending': id },
    meta, el('div', { class: 'body', dir: 'auto' }, richText(p.body)));
}

// What is on screen for the open room, keyed by event (`s:SEQ`), day
// separator (`d:DAY`) and pending send (`p:ID`), each with the signature of
// what it shows. A render touches only items that are new or changed, so a
// selection, Ctrl-F's place and focus survive the once-a-second refresh.
const shown = new Map();

function wantedItems(state, r, actions) {
  const items = [];
  const isAdmin = Boolean(state.me && state.me.is_admin);
  const me = state.me ? state.me.username : '';
  let day = null;
  const events = [...r.events.values()].sort((a, b) => a.seq - b.seq);
  for (const ev of events) {
    const d = dayOf(ev.ts);
    if (d !== day) {
      items.push({ key: `d:${d}`, sig: d, make: () => el('li', { class: 'day', role: 'separator', text: d }) });
      day = d;
    }
    const parts = notice(ev);
    if (parts) {
      items.push({ key: `s:${ev.seq}`, sig: JSON.stringify([ev.type, ev.seq]), make: () => el('li', { class: 'notice' }, ...notice(ev)) });
    } else if (ev.type === 'message') {
      const sig = JSON.stringify([ev.id, ev.body, ev.edited, ev.deleted, ev.file ? ev.file.id : null, ev.from === me, isAdmin]);
      items.push({ key: `s:${ev.seq}`, sig, make: () => messageItem(state, ev, actions) });
    }
  }
  for (const [id, p] of r.pending) {
    const sig = JSON.stringify([p.body, p.status, p.error || '', pendingLabel(p)]);
    items.push({ key: `p:${id}`, sig, make: () => pendingItem(state, id, p, actions) });
  }
  return items;
}

function renderMessages(state, actions) {
  const list = $('messages');
  const r = state.room(state.current);
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const oldHeight = list.scrollHeight;
  const oldTop = list.scrollTop;
  if (!r || list.dataset.room !== String(r.info.id)) {
    list.replaceChildren();
    shown.clear();
  }
  if (!r) { list.dataset.room = ''; return; }
  const keep = new Set();
  let prev = null;
  for (const item of wantedItems(state, r, actions)) {
    keep.add(item.key);
    let entry = shown.get(item.key);
    if (!entry || entry.sig !== item.sig) {
      const node = item.make();
      if (entry) entry.node.replaceWith(node);
      entry = { node, sig: item.sig };
      shown.set(item.key, entry);
    }
    const next = prev ? prev.nextSibling : list.firstChild;
    if (next !== entry.node) list.insertBefore(entry.node, next);
    prev = entry.node;
  }
  for (const [key, entry] of shown) {
    if (!keep.has(key)) { entry.node.remove(); shown.delete(key); }
  }
  if (atBottom || list.dataset.room !== String(r.info.id)) list.scrollTop = list.scrollHeight;
  else if (list.dataset.prepend === '1') list.scrollTop = list.scrollHeight - oldHeight + oldTop;
  list.dataset.room = String(r.info.id);
  list.dataset.prepend = '';
  // Remembered for content that grows after rendering (image previews).
  list.dataset.stick = list.scrollHeight - list.scrollTop - list.clientHeight < 40 ? '1' : '';
}

function renderTyping(state) {
  const r = state.room(state.current);
  const now = Date.now();
  const who = r ? [...r.typing.entries()].filter(([, until]) => until > now).map(([u]) => u) : [];
  $('typing').textContent = who.length ? `${who.join(', ')} ${who.length > 1 ? 'are' : 'is'} typing…` : '';
}

export function renderPublicRooms(rooms, actions) {
  $('public-list').replaceChildren(...rooms.map((r) => el('li', {},
    el('button', { type: 'button', 'data-public': r.name, onclick: () => actions.joinRoom(r.id) },
      el('span', { text: `# ${r.name}` }),
      el('span', { class: 'state', text: r.joined ? 'joined' : `${r.members} members` })))));
}
