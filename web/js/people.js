// People as the app shows them: display names (with the username when two
// people share a name), avatars (their picture, or initials on a colour
// chosen from the username), and the user card.

import { el, fullTime } from './format.js';

// White text on each of these meets WCAG AA.
const COLOURS = ['#b42318', '#b54708', '#067647', '#0e7090', '#175cd3', '#5925dc', '#c11574', '#475467'];

function colourOf(username) {
  let h = 0;
  for (const c of username) h = (h * 31 + c.codePointAt(0)) >>> 0;
  return COLOURS[h % COLOURS.length];
}

// Up to two letters: of the first two words of the display name, else the
// first of the username.
export function initials(name) {
  const words = name.trim().split(/[\s._-]+/).filter(Boolean);
  const letters = words.slice(0, 2).map((w) => [...w][0]);
  return (letters.join('') || '?').toUpperCase();
}

// The entry the app knows for `username` (directory, profile events).
export function person(state, username) {
  return state.people.get(username) || { username };
}

// The name to show: the display name, or the username; with "(@name)"
// after it when someone else has the same display name.
export function displayName(state, username) {
  const p = person(state, username);
  const shown = p.display_name || username;
  if (p.display_name && state.nameClash(p.display_name)) return `${shown} (@${username})`;
  return shown;
}

// An avatar element; `size` is '', 'small' or 'large'.
export function avatar(state, username, size = '') {
  const p = person(state, username);
  const box = el('span', { class: `avatar ${size}`.trim(), 'aria-hidden': 'true' });
  if (p.avatar) {
    box.append(el('img', { src: p.avatar, alt: '', loading: 'lazy', decoding: 'async' }));
  } else {
    box.style.background = colourOf(username);
    box.textContent = initials(p.display_name || username);
  }
  return box;
}

// A signature of what an avatar and a name show, for keyed rendering.
export function looks(state, username) {
  const p = person(state, username);
  return `${p.display_name || ''}|${p.avatar || ''}|${displayName(state, username)}`;
}

// The user card: who they are, their status, whether they are around, and
// a button to message them.
export function showUserCard(state, username, actions) {
  const p = person(state, username);
  const online = state.online.has(username);
  document.getElementById('card-avatar').replaceChildren(avatar(state, username, 'large'));
  document.getElementById('card-name').textContent = p.display_name || username;
  document.getElementById('card-username').textContent = `@${username}${p.is_admin ? ' · admin' : ''}${p.is_bot ? ' · bot' : ''}`;
  document.getElementById('card-status').textContent = p.status || '';
  document.getElementById('card-presence').textContent = online
    ? 'Online now'
    : (p.last_seen ? `Last seen ${fullTime(p.last_seen)}` : 'Never seen');
  const message = document.getElementById('card-message');
  const me = state.me && state.me.username === username;
  message.hidden = me;
  message.onclick = () => { document.getElementById('user-card').close(); actions.openDm(username); };
  const verify = document.getElementById('card-verify');
  verify.hidden = me;
  verify.onclick = () => { document.getElementById('user-card').close(); actions.verify(username); };
  document.getElementById('user-card').showModal();
}
