// Start-up and wiring: the login screen, then the app. Modules:
// api.js (HTTPS), connection.js (WebSocket, reconnect, outbox),
// state.js (model), views.js + sidebar.js + messages.js + intro.js
// (rendering, keyed by keyed.js), people.js (names, avatars, user card),
// composer.js (the message box, drafts), uploads.js (files),
// dialogs.js (in-page dialogs), profile.js, admin.js, theme.js,
// offline.js (what this device keeps), format.js + markup.js (safe text,
// formatting), threads.js (thread panel, followed threads), reactions.js +
// emoji.js (reactions, the picker), mentions.js (@ completion, Mentions
// view), roomtools.js (notification settings, pins, message links, archive,
// delete), roomdialogs.js (new room, browse, invite, leave, password),
// reset.js (a password reset link).

import { resetToken, showReset } from './reset.js';
import { E2E, sealFile, openedFile } from './e2e.js';
import { Security } from './security.js';
import { api, explain } from './api.js';
import { Connection } from './connection.js';
import { State } from './state.js';
import { render, renderPublicRooms } from './views.js';
import { WINDOW, showOlder, showNewer, showAt, jumpToLatest, nearTop, nearBottom, updateJump } from './messages.js';
import { SearchPage } from './search.js';
import { wireUploads } from './uploads.js';
import { Composer } from './composer.js';
import { confirmDialog, alertDialog } from './dialogs.js';
import { displayName, showUserCard } from './people.js';
import { wireProfile } from './profile.js';
import { wireTokens, wireWebhooks } from './integrations.js';
import { AdminPage } from './admin.js';
import { loadTheme, wireTheme } from './theme.js';
import { saveSession, loadSession, saveOutbox, loadOutbox, forget } from './offline.js';
import { Threads } from './threads.js';
import { EmojiPicker, react } from './reactions.js';
import { MentionBox, MentionsPage } from './mentions.js';
import { wireRoomTools, copyLink, pin } from './roomtools.js';
import { wireDialogs, openRoomDialog } from './roomdialogs.js';

const $ = (id) => document.getElementById(id);
const state = new State();
let conn = null;
// Encryption and devices: this browser's E2E device once it is open.
const security = new Security(() => (conn && conn.e2e ? conn.e2e : Promise.resolve(null)));
let readTimer = null;
let restored = false;

async function boot() {
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch(() => { /* no offline start */ });
  const reset = resetToken();
  if (reset) { showReset(reset); return; }
  const kept = loadSession();
  loadTheme(kept ? kept.me.id : 0);
  try {
    const me = await api('GET', '/api/me');
    startApp(me.user, null, me.device);
  } catch (e) {
    // Without the server, open what this device kept, with its outbox.
    if (e.status === 0 && kept) startApp(kept.me, kept.rooms);
    else showLogin();
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
    const me = await api('GET', '/api/me');
    startApp(res.user, null, me.device);
  } catch (e) {
    err.textContent = explain(e);
    if (e.code === 'registration_closed') $('login-view').classList.add('invite');
  }
}

function restoreOutbox() {
  if (restored) return;
  restored = true;
  for (const item of loadOutbox(state.me.id)) {
    if (!state.room(item.room)) continue;
    if (item.file) conn.sendFile(item.room, item.file.id, item.file.secrets, item.body, item.id);
    else conn.send(item.room, item.body, item.id, item.thread || null, Boolean(item.also_room));
  }
}

function startApp(user, keptRooms = null, device = null) {
  state.me = user;
  loadTheme(user.id);
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  conn = new Connection(state, {
    onFresh: notifyFresh,
    onLoggedOut: () => location.reload(),
    onPresence: refreshUsers,
    onSynced: () => {
      saveSession(state.me, [...state.rooms.values()].map((r) => r.info));
      restoreOutbox();
      refreshPublic();
      threads.refresh();
      if (!followLink()) openRoom(state.current);
    },
    onThread: (st) => threads.onState(st),
    // The open room went away (left, removed): land in general.
    onRoomGone: () => openRoom(state.general()),
    onOutbox: (items) => saveOutbox(state.me.id, items),
    onWarning: (text) => alertDialog(text),
  });
  if (device) {
    conn.e2e = E2E.open(user, device).catch((err) => { console.warn('end-to-end encryption unavailable', err); return null; });
    window.securechatE2E = conn.e2e;
  }
  if (keptRooms) {
    for (const info of keptRooms) state.upsertRoom(info);
    state.current = state.general();
    state.setStatus('offline');
    restoreOutbox();
    openRoom(state.current);
  }
  conn.start();
  refreshUsers();
  refreshPublic();
  checkSetup();
  if ('Notification' in window && Notification.permission === 'default') $('notify-button').hidden = false;
  $('message-input').focus();
}

async function refreshUsers() {
  try {
    state.setPeople((await api('GET', '/api/users')).users);
    // Someone else is here: the new server's setup steps are done.
    if (state.setup && state.people.size > 1) state.setup = null;
  } catch { /* shown by the connection status */ }
}

async function refreshPublic() {
  try {
    state.publicRooms = (await api('GET', '/api/rooms')).public;
    state.changed();
  } catch { /* later */ }
}

// A brand-new server: its first (admin) user is shown how to let the team in.
async function checkSetup() {
  if (!state.me.is_admin) return;
  try {
    const [stats, settings] = await Promise.all([api('GET', '/api/admin/stats'), api('GET', '/api/admin/settings')]);
    state.setup = stats.users <= 1 ? { users: stats.users, registration: settings.registration } : null;
    state.changed();
  } catch { /* not now */ }
}

const composer = new Composer(state, {
  send(room, body) {
    const r = state.room(room);
    if (r) { r.marker = null; if (r.view.end !== null) jumpToLatest(state, r); }
    conn.send(room, body);
  },
  typing: (room) => conn && conn.typing(room),
  editLast() {
    const r = state.room(state.current);
    if (!r || !state.me) return false;
    const mine = state.sorted(r).findLast((e) => e.type === 'message' && e.from === state.me.username && !e.deleted);
    if (!mine) return false;
    actions.edit(mine);
    return true;
  },
});

async function openRoom(id) {
  if (id === null || id === undefined) return;
  const changedRoom = state.current !== Number(id) || state.view !== 'chat';
  state.view = 'chat';
  state.current = Number(id);
  composer.switchTo(state.current);
  $('sidebar').classList.remove('open');
  $('menu-toggle').setAttribute('aria-expanded', 'false');
  const r = state.room(id);
  if (r && changedRoom) {
    // The "new messages" line: after what was read when the room opened.
    r.marker = (r.info.unread || 0) > 0 ? (r.info.read_seq || 0) : null;
    r.view = { end: null, size: WINDOW };
    r.unseen = 0;
    r.found = null;
    $('messages').dataset.room = '';
  }
  if (r && !r.historyLoaded) await loadOlder(r);
  markRead();
  state.changed();
  if (r && r.info.encrypted) security.offer();
}

async function loadOlder(r, limit = 100) {
  if (!r.more || r.loading) return;
  r.loading = true;
  const first = state.sorted(r)[0];
  const before = first ? first.seq : r.info.last_seq + 1;
  try {
    const page = await api('GET', `/api/rooms/${r.info.id}/events?before=${before}&limit=${limit}`);
    await openAll(page.events);
    state.addHistory(r.info.id, page.events, page.more);
  } catch { /* retried on the next scroll */ } finally { r.loading = false; }
}

// Opens the encrypted events of a history page (keys that never reached
// this browser: restore the key backup).
async function openAll(events) {
  const e2e = conn && conn.e2e ? await conn.e2e : null;
  for (const ev of events) {
    if (!ev.encrypted || ev.deleted) continue;
    if (!e2e) { ev.body = 'End-to-end encrypted: this browser has no keys to read it.'; ev.undecryptable = true; continue; }
    if (!e2e.open(ev)) e2e.giveUp(ev, false);
  }
}

function markRead() {
  clearTimeout(readTimer);
  readTimer = setTimeout(() => {
    const r = state.room(state.current);
    if (!r || document.hidden || !conn || state.view !== 'chat') return;
    if ((r.info.read_seq || 0) < r.info.last_seq) conn.read(r.info.id, r.info.last_seq);
    r.info.unread = 0;
    state.changed();
  }, 150);
}

// Something new from someone else: counts (unread, mentions, followed
// threads) and, when the page is hidden, a browser notification if the
// room's level asks for one: "all" for every message in the room (and
// replies in followed threads and mentions), "mentions" for mentions and
// followed threads only, "none" or muted for nothing.
function notifyFresh(room, ev) {
  const message = ev.type === 'message';
  const mentioned = message && state.mentionsMe(ev);
  const threadOnly = message && ev.thread && !ev.also_room;
  const followedReply = message && ev.thread ? threads.onReply(ev) : false;
  const here = room.info.id === state.current && state.view === 'chat';
  if (here && !document.hidden) {
    if (!threadOnly && $('messages').dataset.stick !== '1') room.unseen += 1;
    markRead();
  } else {
    if (here && room.marker === null && !threadOnly) room.marker = ev.seq - 1;
    if (!threadOnly) room.info.unread = (room.info.unread || 0) + 1;
    if (mentioned) room.info.mentions = (room.info.mentions || 0) + 1;
  }
  const level = room.info.muted ? 'none' : (room.info.notify || 'all');
  const wanted = level === 'all' ? (!threadOnly || followedReply || mentioned)
    : level === 'mentions' ? (mentioned || followedReply) : false;
  if (wanted && message && document.hidden && 'Notification' in window && Notification.permission === 'granted') {
    const where = room.info.kind === 'dm' ? 'a direct message' : '#' + room.info.name;
    const what = mentioned ? ' mentioned you' : ev.thread ? ' replied in a thread' : '';
    new Notification(`${displayName(state, ev.from)}${what} in ${where}`, { body: ev.body.slice(0, 140), tag: `m${ev.id}` });
  }
  state.changed();
}

const admin = new AdminPage(state, () => openRoom(state.current ?? state.general()));

// A search result: the room opened at that message, with the history
// between it and the newest loaded (so the room stays one unbroken run).
async function openAt(roomId, seq) {
  const r = state.room(roomId);
  if (!r) return;
  await openRoom(roomId);
  for (let i = 0; i < 500 && r.more && (state.sorted(r)[0]?.seq ?? Infinity) > seq; i++) await loadOlder(r, 200);
  showAt(state, r, seq);
}

new SearchPage(state, {
  show: () => { state.view = 'search'; state.changed(); },
  openAt,
  close: () => openRoom(state.current ?? state.general()),
});
const threads = new Threads(state, {
  send(room, body, thread, alsoRoom) { conn.send(room, body, undefined, thread, alsoRoom); },
  openRoom,
});
const mentionsPage = new MentionsPage(state, { openAt, close: () => openRoom(state.current ?? state.general()) });
const picker = new EmojiPicker();
new MentionBox(state, $('message-input'), $('mention-list'), () => state.current);
new MentionBox(state, $('thread-input'), $('thread-mention-list'), () => state.thread && state.thread.room);
const followLink = wireRoomTools(state, { openAt });

const actions = {
  openRoom,
  async openDm(username) {
    try {
      const { room } = await api('POST', '/api/dms', { username, encrypted: true });
      state.upsertRoom(room);
      openRoom(room.id);
    } catch (e) { alertDialog(explain(e)); }
  },
  async joinRoom(id) {
    try {
      const { room } = await api('POST', `/api/rooms/${id}/join`);
      state.upsertRoom(room);
      if ($('browse-dialog').open) $('browse-dialog').close();
      refreshPublic();
      openRoom(room.id);
    } catch (e) { alertDialog(explain(e)); }
  },
  edit(ev) {
    state.editing = { room: ev.room, id: ev.id };
    state.changed();
  },
  async saveEdit(ev, body) {
    if (!body.trim() || body === ev.body) { actions.cancelEdit(); return; }
    try {
      const sealed = state.room(ev.room)?.info.encrypted;
      const e2e = sealed && conn.e2e ? await conn.e2e : null;
      if (sealed && !e2e) throw new Error('this browser has no encryption keys');
      const change = sealed ? { encrypted: await e2e.encrypt(ev.room, body) } : { body };
      await api('PATCH', `/api/rooms/${ev.room}/messages/${ev.id}`, change);
      if (ev.body !== body) { ev.body = body; ev.edited = true; ev.version = (ev.version || 0) + 1; }
      actions.cancelEdit();
    } catch (e) { alertDialog(explain(e)); }
  },
  cancelEdit() {
    state.editing = null;
    state.changed();
    queueMicrotask(() => $('message-input').focus());
  },
  // A refused message: again as it is, back into the box, or away.
  retryPending(room, id) {
    const r = state.room(room);
    const p = r && r.pending.get(id);
    if (!p) return;
    r.pending.delete(id);
    if (p.file) conn.sendFile(room, p.file.id, p.file.secrets);
    else conn.send(room, p.body, undefined, p.thread || null, Boolean(p.also_room));
  },
  editPending(room, id) {
    const r = state.room(room);
    const p = r && r.pending.get(id);
    if (!p) return;
    r.pending.delete(id);
    composer.fill(p.body);
    state.changed();
  },
  discardPending(room, id) {
    const r = state.room(room);
    if (r) r.pending.delete(id);
    state.changed();
  },
  async remove(ev) {
    if (!(await confirmDialog('Delete this message? Everyone in the room sees that it was deleted.', { ok: 'Delete', danger: true }))) return;
    try { await api('DELETE', `/api/rooms/${ev.room}/messages/${ev.id}`); } catch (e) { alertDialog(explain(e)); }
  },
  showUser: (username) => showUserCard(state, username, actions),
  verify: (username) => security.verify(username),
  async openImage(file) {
    const href = `/api/files/${file.id}`;
    let shown = `${href}?inline=true`;
    let saved = href;
    if (file.secrets) {
      try { shown = await openedFile(file); saved = shown; } catch (e) { alertDialog(e.message); return; }
    }
    $('viewer-name').textContent = file.name;
    $('viewer-image').src = shown;
    $('viewer-image').alt = file.name;
    $('viewer-download').href = saved;
    $('viewer-download').setAttribute('download', file.name);
    $('viewer').showModal();
  },
  openAdmin(section) {
    state.view = 'admin';
    $('sidebar').classList.remove('open');
    state.changed();
    admin.open(section);
  },
  createRoom: () => openRoomDialog(),
  editProfile: () => $('profile-button').click(),
  openThread: (room, root) => threads.open(room, root),
  pickReaction: (ev, opener) => picker.open(ev, opener),
  react,
  pin,
  copyLink,
};

state.onChange((s) => { render(s, actions); threads.render(actions); });

// Login screen.
$('login-form').addEventListener('submit', (e) => { e.preventDefault(); authenticate('/api/login'); });
$('register-button').addEventListener('click', () => authenticate('/api/register'));

// Files: Attach button, drag-and-drop, paste.
wireUploads(() => state.current, (room) => (state.room(room)?.info.encrypted
  ? { seal: sealFile, post: (fileId, secrets) => conn.sendFile(room, fileId, secrets) }
  : null));
wireProfile(state);
wireTokens(state);
wireWebhooks(state);
wireTheme(() => (state.me ? state.me.id : 0));

// An image preview that loads makes the list taller, and upload bars make
// it shorter: either way, stay at the bottom if that is where the reader was.
const list = $('messages');
const stick = () => { if (list.dataset.stick === '1') list.scrollTop = list.scrollHeight; };
list.addEventListener('load', stick, true);
new ResizeObserver(stick).observe(list);

// Scrolling: older events near the top (from memory, else from the
// server), newer ones near the bottom of a window that is not at the end.
list.addEventListener('scroll', async () => {
  const r = state.room(state.current);
  if (!r) return;
  if (nearTop(list) && !showOlder(state, r) && r.more && !r.loading) {
    await loadOlder(r);
    showOlder(state, r);
  } else if (nearBottom(list)) {
    showNewer(state, r);
  }
  list.dataset.stick = r.view.end === null && nearBottom(list, 40) ? '1' : '';
  if (list.dataset.stick === '1' && r.unseen) { r.unseen = 0; }
  updateJump(r, list);
});
$('jump-button').addEventListener('click', () => {
  const r = state.room(state.current);
  if (r) jumpToLatest(state, r);
  $('message-input').focus();
});

// Header and sidebar controls.
$('menu-toggle').addEventListener('click', () => {
  const open = $('sidebar').classList.toggle('open');
  $('menu-toggle').setAttribute('aria-expanded', String(open));
});
$('logout-button').addEventListener('click', async () => {
  // Drafts, kept rooms and unsent messages stay on this device only while
  // you are logged in.
  if (state.me) forget(state.me.id);
  try { await api('POST', '/api/logout'); } catch { /* gone anyway */ } finally { if (conn) conn.stop(); location.reload(); }
});
$('notify-button').addEventListener('click', async () => {
  await Notification.requestPermission();
  $('notify-button').hidden = true;
});
document.addEventListener('visibilitychange', () => { if (!document.hidden) markRead(); state.changed(); });
$('admin-button').addEventListener('click', () => actions.openAdmin());
// Threads and Mentions, at the top of the sidebar (on a phone, it closes).
for (const [id, show] of [['threads-button', () => threads.showList()], ['mentions-button', () => mentionsPage.show()]]) {
  $(id).addEventListener('click', () => {
    $('sidebar').classList.remove('open');
    $('menu-toggle').setAttribute('aria-expanded', 'false');
    show();
  });
}

// Dialogs: new room, browse, invite, leave, password, the account menu.
wireDialogs(state, {
  openRoom,
  refreshPublic,
  showPublic: (rooms) => renderPublicRooms(rooms, actions),
  openSecurity: () => security.open(),
});

// Typing indicators and rate-limit countdowns age by themselves.
setInterval(() => state.changed(), 1000);

boot();
