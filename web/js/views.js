// Rendering: the header, the sidebar, the open room (or the admin page),
// typing and the title. All user-provided text goes through textContent
// (see format.js).

import { el } from './format.js';
import { avatar, displayName } from './people.js';
import { renderSidebar } from './sidebar.js';
import { renderMessages } from './messages.js';

const $ = (id) => document.getElementById(id);

export function render(state, actions) {
  renderHeader(state);
  renderSidebar(state, actions);
  const chat = state.view === 'chat';
  $('chat').hidden = !chat;
  $('admin-view').hidden = state.view !== 'admin';
  $('search-view').hidden = state.view !== 'search';
  $('threads-view').hidden = state.view !== 'threads';
  $('mentions-view').hidden = state.view !== 'mentions';
  renderBadges(state);
  if (chat) {
    renderMessages(state, actions);
    renderTyping(state);
  }
  const unread = state.totalUnread();
  document.title = document.hidden && unread > 0 ? `(${unread}) SecureChat` : 'SecureChat';
}

let meLooks = '';

function renderHeader(state) {
  const r = state.room(state.current);
  const title = state.view === 'admin' ? 'Administration'
    : state.view === 'search' ? 'Search'
    : state.view === 'threads' ? 'Threads'
    : state.view === 'mentions' ? 'Mentions'
    : r ? (r.info.kind === 'dm' ? `@${displayName(state, r.info.name)}` : `#${r.info.name}`) : 'SecureChat';
  const shown = state.view === 'chat' && r && r.info.encrypted ? `${title} 🔒` : title;
  if ($('room-name').textContent !== shown) $('room-name').textContent = shown;
  const hint = state.view === 'chat' && r && r.info.encrypted ? 'Encrypted message' : 'Message';
  if ($('message-input').placeholder !== hint) $('message-input').placeholder = hint;
  const sealed = state.view === 'chat' && r && r.info.encrypted;
  const topic = (sealed ? '🔒 End-to-end encrypted' + (r.info.topic ? ' · ' : '') : '') + (state.view === 'chat' && r && r.info.topic ? r.info.topic : '');
  if ($('room-topic').textContent !== topic) $('room-topic').textContent = topic;
  const st = $('conn-status');
  const { state: s, detail } = state.status;
  const text = s === 'connected' ? 'connected'
    : s === 'offline' && detail ? `offline — retrying ${detail}` : `${s}${detail ? ' ' + detail : ''}`;
  if (st.textContent !== text) st.textContent = text;
  st.className = `status ${s}`;
  if (state.me) {
    const me = state.people.get(state.me.username) || {};
    const looks = `${me.display_name || ''}|${me.avatar || ''}`;
    if (looks !== meLooks) {
      meLooks = looks;
      $('me-name').textContent = state.me.username;
      $('me-avatar').replaceChildren(avatar(state, state.me.username, 'small'));
    }
    $('admin-button').hidden = !state.me.is_admin;
  }
  const general = r && r.info.kind === 'public' && r.info.name === 'general';
  $('room-actions').hidden = state.view !== 'chat' || !r;
  $('invite-button').hidden = !r || r.info.kind === 'dm' || general || Boolean(r.info.archived);
  $('leave-button').hidden = !r || r.info.kind === 'dm' || general;
  $('integrations-button').hidden = !r || Boolean(r.info.encrypted) || Boolean(r.info.archived);
  $('delete-room-button').hidden = !r || r.info.kind === 'dm' || general || !state.me.is_admin;
  $('archive-button').hidden = !r || r.info.kind === 'dm' || general || !state.me.is_admin;
  const archived = Boolean(r && r.info.archived);
  if (r) $('archive-button').textContent = archived ? 'Unarchive' : 'Archive';
  $('archived-note').hidden = state.view !== 'chat' || !archived;
  $('composer').hidden = state.view === 'chat' && archived;
  const level = r ? (r.info.muted ? 'Muted' : { all: 'Notifications', mentions: 'Mentions only', none: 'No notifications' }[r.info.notify || 'all']) : '';
  if ($('notify-settings-button').textContent !== level) $('notify-settings-button').textContent = level;
}

// Unread replies in followed threads, and unread mentions, on the header
// buttons (with the numbers in the accessible name too).
function renderBadges(state) {
  let threads = 0;
  for (const t of state.followed.values()) threads += t.unread || 0;
  let mentions = 0;
  for (const r of state.rooms.values()) mentions += r.info.mentions || 0;
  for (const [id, n] of [['threads', threads], ['mentions', mentions]]) {
    const badge = $(`${id}-badge`);
    badge.hidden = n === 0;
    if (badge.textContent !== String(n)) badge.textContent = String(n);
    const unread = $(`${id}-unread`);
    const said = n ? ` unread` : '';
    if (unread.textContent !== said) unread.textContent = said;
    $(`${id}-button`).setAttribute('aria-current', state.view === id ? 'page' : 'false');
  }
}

function renderTyping(state) {
  const r = state.room(state.current);
  const now = Date.now();
  const who = r ? [...r.typing.entries()].filter(([, until]) => until > now).map(([u]) => displayName(state, u)) : [];
  const text = who.length ? `${who.join(', ')} ${who.length > 1 ? 'are' : 'is'} typing…` : '';
  if ($('typing').textContent !== text) $('typing').textContent = text;
}

export function renderPublicRooms(rooms, actions) {
  $('public-list').replaceChildren(...rooms.map((r) => el('li', {},
    el('button', { type: 'button', 'data-public': r.name, onclick: () => actions.joinRoom(r.id) },
      el('span', { class: 'name', text: `# ${r.name}` }),
      el('span', { class: 'state', text: r.joined ? 'joined' : `${r.members} ${r.members === 1 ? 'member' : 'members'}` })))));
}
