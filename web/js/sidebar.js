// The sidebar: rooms (unread ones in bold, with a count), direct messages
// and people, each with their avatar and whether they are online.

import { el, fullTime } from './format.js';
import { avatar, displayName, looks, person } from './people.js';
import { Keyed } from './keyed.js';

const $ = (id) => document.getElementById(id);
const lists = {};
const keyedOf = (id) => (lists[id] ||= new Keyed($(id)));

// Words for screen readers only.
const hidden = (text) => el('span', { class: 'visually-hidden', text });

function presence(state, username) {
  const online = state.online.has(username);
  return el('span', { class: 'person' }, avatar(state, username, 'small'),
    el('span', { class: `dot${online ? ' online' : ''}`, 'aria-hidden': 'true' }));
}

function roomItem(state, r, actions) {
  const current = state.current === r.info.id && state.view === 'chat';
  const n = r.info.unread || 0;
  const at = r.info.mentions || 0;
  const muted = Boolean(r.info.muted);
  const dm = r.info.kind === 'dm';
  const online = dm && state.online.has(r.info.name);
  const label = dm ? displayName(state, r.info.name) : `# ${r.info.name}`;
  const sealed = Boolean(r.info.encrypted);
  const sig = JSON.stringify([label, current, n, at, muted, r.info.kind, online, dm && looks(state, r.info.name), sealed]);
  const make = () => {
    const unread = n > 0 && !current && !muted;
    const btn = el('button', {
      type: 'button',
      class: [unread ? 'unread' : '', muted ? 'muted-room' : ''].join(' ').trim() || undefined,
      'aria-current': current ? 'true' : 'false',
      'data-room': String(r.info.id),
      onclick: () => actions.openRoom(r.info.id),
    });
    // The accessible name is the visible text plus, for screen readers,
    // presence and the unread count.
    if (dm) btn.append(presence(state, r.info.name));
    btn.append(el('span', { class: 'name', text: label }));
    if (sealed) btn.append(el('span', { class: 'lock', title: 'End-to-end encrypted', text: '🔒' }), hidden(' (end-to-end encrypted)'));
    if (dm) btn.append(hidden(online ? ' (online)' : ' (offline)'));
    if (r.info.kind === 'private') btn.append(el('span', { class: 'tag', text: 'private' }));
    if (muted) btn.append(el('span', { class: 'tag', text: 'muted' }));
    if (at > 0 && !current) btn.append(hidden(`, ${at} ${at === 1 ? 'mention' : 'mentions'}`), el('span', { class: 'badge at', 'aria-hidden': 'true', text: `@${at}` }));
    else if (unread) btn.append(hidden(`, ${n} unread`), el('span', { class: 'badge', 'aria-hidden': 'true', text: String(n) }));
    return el('li', {}, btn);
  };
  return { key: `r:${r.info.id}`, sig, make };
}

function personItem(state, u, actions) {
  const online = state.online.has(u.username);
  const p = person(state, u.username);
  const name = displayName(state, u.username);
  const seen = online ? 'online' : (p.last_seen ? `last seen ${fullTime(p.last_seen)}` : 'never seen');
  const sig = JSON.stringify([name, online, seen, p.status || '', looks(state, u.username)]);
  const make = () => el('li', {}, el('button', {
    type: 'button',
    'data-user': u.username,
    title: `@${u.username} — ${seen}`,
    onclick: () => actions.openDm(u.username),
  }, presence(state, u.username), hidden('Message '),
  el('span', { class: 'name' }, el('span', { text: name }),
    hidden(` (${online ? 'online' : 'offline'})`),
    p.status ? el('span', { class: 'sub', text: ` — ${p.status}` }) : null)));
  return { key: `u:${u.username}`, sig, make };
}

export function renderSidebar(state, actions) {
  const rooms = [...state.rooms.values()].sort((a, b) => a.info.name.localeCompare(b.info.name));
  keyedOf('room-list').update(rooms.filter((r) => r.info.kind !== 'dm').map((r) => roomItem(state, r, actions)));
  keyedOf('dm-list').update(rooms.filter((r) => r.info.kind === 'dm').map((r) => roomItem(state, r, actions)));
  const people = [...state.people.values()]
    .filter((u) => !state.me || u.username !== state.me.username)
    .sort((a, b) => (state.online.has(b.username) - state.online.has(a.username))
      || displayName(state, a.username).localeCompare(displayName(state, b.username)));
  keyedOf('user-list').update(people.map((u) => personItem(state, u, actions)));
}
