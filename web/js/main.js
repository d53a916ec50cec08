// Start-up and wiring: the login screen, then the app. Modules:
// api.js (HTTPS), connection.js (WebSocket, reconnect, outbox),
// state.js (model), views.js (rendering), format.js (safe text),
// uploads.js (files: upload with progress, previews, links).

import { api, explain } from './api.js';
import { Connection } from './connection.js';
import { State } from './state.js';
import { render, renderPublicRooms } from './views.js';
import { wireUploads } from './uploads.js';

const $ = (id) => document.getElementById(id);
const state = new State();
let conn = null;
let readTimer = null;

async function boot() {
  try {
    const me = await api('GET', '/api/me');
    startApp(me.user);
  } catch {
    showLogin();
  }
}

function showLogin() {
  $('app-view').hidden = true;
  $('login-view').hidden = false;
  $('login-username').focus();
}

async function authenticate(path) {
  const err = $('login-error');
  err.textContent = '';
  const body = { username: $('login-username').value.trim(), password: $('login-password').value };
  // Nothing to check yet: say what is missing, ask the server nothing.
  if (!body.username || !body.password) {
    err.textContent = body.username ? 'Enter your password.' : 'Enter your username.';
    $(body.username ? 'login-password' : 'login-username').focus();
    return;
  }
  const invite = $('login-invite').value.trim();
  if (path === '/api/register' && invite) body.invite_code = invite;
  try {
    const res = await api('POST', path, body);
    $('login-password').value = '';
    startApp(res.user);
  } catch (e) {
    err.textContent = explain(e);
    if (e.code === 'registration_closed') $('login-view').classList.add('invite');
  }
}

function startApp(user) {
  state.me = user;
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  conn = new Connection(state, {
    onFresh: notifyFresh,
    onLoggedOut: () => location.reload(),
    onPresence: refreshUsers,
    onSynced: () => openRoom(state.current),
    // The open room went away (left, removed): land in general.
    onRoomGone: () => openRoom(state.general()),
  });
  conn.start();
  refreshUsers();
  if ('Notification' in window && Notification.permission === 'default') $('notify-button').hidden = false;
  $('message-input').focus();
}

async function refreshUsers() {
  try {
    state.users = (await api('GET', '/api/users')).users;
    state.changed();
  } catch { /* shown by the connection status */ }
}

// Drafts: what is typed in a room stays with that room, also across
// reloads (in this browser's storage, per user).
const draftKey = (room) => `securechat.draft.${state.me ? state.me.id : 0}.${room}`;
let draftRoom = null; // the room whose draft is in the box
function saveDraft() {
  if (!draftRoom) return;
  const text = $('message-input').value;
  try {
    if (text) localStorage.setItem(draftKey(draftRoom), text);
    else localStorage.removeItem(draftKey(draftRoom));
  } catch { /* storage full or off: the draft just is not kept */ }
}
function restoreDraft(room) {
  let text = '';
  try { text = localStorage.getItem(draftKey(room)) || ''; } catch { /* off */ }
  $('message-input').value = text;
  draftRoom = room;
  fitComposer();
}

async function openRoom(id) {
  if (id === null || id === undefined) return;
  state.current = Number(id);
  if (draftRoom !== state.current) {
    saveDraft();
    restoreDraft(state.current);
  }
  $('sidebar').classList.remove('open');
  const r = state.room(id);
  if (r && !r.historyLoaded) await loadOlder(r);
  markRead();
  state.changed();
}

async function loadOlder(r) {
  if (!r.more) return;
  const seqs = [...r.events.keys()];
  const before = seqs.length ? Math.min(...seqs) : r.info.last_seq + 1;
  try {
    const page = await api('GET', `/api/rooms/${r.info.id}/events?before=${before}&limit=50`);
    $('messages').dataset.prepend = '1';
    state.addHistory(r.info.id, page.events, page.more);
  } catch { /* retried on the next scroll */ }
}

function markRead() {
  clearTimeout(readTimer);
  readTimer = setTimeout(() => {
    const r = state.room(state.current);
    if (!r || document.hidden || !conn) return;
    if ((r.info.read_seq || 0) < r.info.last_seq) conn.read(r.info.id, r.info.last_seq);
    r.info.unread = 0;
    state.changed();
  }, 150);
}

function notifyFresh(room, ev) {
  if (room.info.id === state.current && !document.hidden) { markRead(); return; }
  room.info.unread = (room.info.unread || 0) + 1;
  if (document.hidden && 'Notification' in window && Notification.permission === 'granted' && ev.type === 'message') {
    new Notification(`${ev.from} in ${room.info.kind === 'dm' ? 'a direct message' : '#' + room.info.name}`, { body: ev.body.slice(0, 140) });
  }
  state.changed();
}

const actions = {
  openRoom,
  async openDm(username) {
    try {
      const { room } = await api('POST', '/api/dms', { username });
      state.upsertRoom(room);
      openRoom(room.id);
    } catch (e) { alert(explain(e)); }
  },
  async joinRoom(id) {
    try {
      const { room } = await api('POST', `/api/rooms/${id}/join`);
      state.upsertRoom(room);
      $('browse-dialog').close();
      openRoom(room.id);
    } catch (e) { alert(explain(e)); }
  },
  async edit(ev) {
    const body = prompt('Edit message', ev.body);
    if (body === null || body === ev.body) return;
    try { await api('PATCH', `/api/rooms/${ev.room}/messages/${ev.id}`, { body }); } catch (e) { alert(explain(e)); }
  },
  // A refused message: again as it is, back into the box, or away.
  retryPending(room, id) {
    const r = state.room(room);
    const p = r && r.pending.get(id);
    if (!p) return;
    r.pending.delete(id);
    conn.send(room, p.body);
  },
  editPending(room, id) {
    const r = state.room(room);
    const p = r && r.pending.get(id);
    if (!p) return;
    r.pending.delete(id);
    input.value = p.body;
    fitComposer();
    saveDraft();
    input.focus();
    state.changed();
  },
  discardPending(room, id) {
    const r = state.room(room);
    if (r) r.pending.delete(id);
    state.changed();
  },
  async remove(ev) {
    if (!confirm('Delete this message?')) return;
    try { await api('DELETE', `/api/rooms/${ev.room}/messages/${ev.id}`); } catch (e) { alert(explain(e)); }
  },
};

state.onChange((s) => render(s, actions));

// Login screen.
$('login-form').addEventListener('submit', (e) => { e.preventDefault(); authenticate('/api/login'); });
$('register-button').addEventListener('click', () => authenticate('/api/register'));

// Composer: Enter sends, Shift+Enter is a new line; the box grows with
// its lines (up to a third of the screen, then it scrolls).
const input = $('message-input');
function fitComposer() {
  input.style.height = 'auto';
  input.style.height = `${input.scrollHeight + 2}px`;
}
let lastTyping = 0;
function sendCurrent() {
  const body = input.value;
  if (!body.trim() || !state.current) return;
  conn.send(state.current, body);
  input.value = '';
  fitComposer();
  saveDraft();
}
input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendCurrent(); }
});
input.addEventListener('input', () => {
  fitComposer();
  saveDraft();
  if (conn && state.current && Date.now() - lastTyping > 2000) { lastTyping = Date.now(); conn.typing(state.current); }
});
$('composer').addEventListener('submit', (e) => { e.preventDefault(); sendCurrent(); });

// Files: Attach button, drag-and-drop, paste.
wireUploads(() => state.current);

// An image preview that loads makes the list taller, and upload bars make
// it shorter: either way, stay at the bottom if that is where the reader was.
const stick = () => {
  const list = $('messages');
  if (list.dataset.stick === '1') list.scrollTop = list.scrollHeight;
};
$('messages').addEventListener('load', stick, true);
new ResizeObserver(stick).observe($('messages'));

// Older history when scrolled to the top.
$('messages').addEventListener('scroll', () => {
  const r = state.room(state.current);
  if (r && $('messages').scrollTop < 30) loadOlder(r);
});

// Header and sidebar controls.
$('menu-toggle').addEventListener('click', () => {
  const open = $('sidebar').classList.toggle('open');
  $('menu-toggle').setAttribute('aria-expanded', String(open));
});
$('logout-button').addEventListener('click', async () => {
  // Drafts stay on this device only while you are logged in.
  try {
    const mine = `securechat.draft.${state.me ? state.me.id : 0}.`;
    for (const key of Object.keys(localStorage)) if (key.startsWith(mine)) localStorage.removeItem(key);
  } catch { /* storage off */ }
  try { await api('POST', '/api/logout'); } finally { conn && conn.stop(); location.reload(); }
});
$('notify-button').addEventListener('click', async () => {
  await Notification.requestPermission();
  $('notify-button').hidden = true;
});
document.addEventListener('visibilitychange', () => { if (!document.hidden) markRead(); state.changed(); });

// Dialogs.
$('new-room-button').addEventListener('click', () => { $('room-error').textContent = ''; $('room-dialog').showModal(); });
$('room-form').addEventListener('submit', async (e) => {
  if (e.submitter && e.submitter.value !== 'create') return;
  e.preventDefault();
  const name = $('room-name-input').value.trim();
  const members = $('room-members-input').value.split(',').map((s) => s.trim()).filter(Boolean);
  const body = { kind: $('room-kind-input').value, members };
  if (name) body.name = name;
  const topic = $('room-topic-input').value.trim();
  if (topic) body.topic = topic;
  try {
    const { room } = await api('POST', '/api/rooms', body);
    state.upsertRoom(room);
    $('room-dialog').close();
    $('room-form').reset();
    openRoom(room.id);
  } catch (err) { $('room-error').textContent = explain(err); }
});
$('browse-button').addEventListener('click', async () => {
  try {
    renderPublicRooms((await api('GET', '/api/rooms')).public, actions);
    $('browse-dialog').showModal();
  } catch (e) { alert(explain(e)); }
});
$('invite-button').addEventListener('click', () => { $('invite-error').textContent = ''; $('invite-dialog').showModal(); });
$('invite-form').addEventListener('submit', async (e) => {
  if (e.submitter && e.submitter.value !== 'invite') return;
  e.preventDefault();
  try {
    await api('POST', `/api/rooms/${state.current}/invite`, { username: $('invite-username').value.trim() });
    $('invite-dialog').close();
    $('invite-form').reset();
  } catch (err) { $('invite-error').textContent = explain(err); }
});
$('leave-button').addEventListener('click', async () => {
  if (!confirm('Leave this room?')) return;
  try { await api('POST', `/api/rooms/${state.current}/leave`); } catch (e) { alert(explain(e)); }
});
$('password-button').addEventListener('click', () => { $('password-error').textContent = ''; $('password-dialog').showModal(); });
// A chosen menu item closes the menu.
document.querySelector('.user-menu .menu').addEventListener('click', () => { document.querySelector('.user-menu').open = false; });
$('password-form').addEventListener('submit', async (e) => {
  if (e.submitter && e.submitter.value !== 'save') return;
  e.preventDefault();
  try {
    await api('POST', '/api/password', { old_password: $('old-password').value, new_password: $('new-password').value });
    $('password-dialog').close();
    $('password-form').reset();
  } catch (err) { $('password-error').textContent = explain(err); }
});

// Typing indicators and rate-limit countdowns age by themselves.
setInterval(() => state.changed(), 1000);

boot();
