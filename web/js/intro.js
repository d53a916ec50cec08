// What the top of a room says when its beginning is on screen: whose room
// it is, that it is empty, and, for someone new, how to get going (rooms to
// join, making a room, a profile); a new server's first admin also gets
// the steps to let the team in.

import { el } from './format.js';
import { displayName } from './people.js';

function setupSteps(state, actions) {
  const mode = state.setup.registration;
  const how = {
    open: 'Registration is open: anyone who can reach this server can make an account.',
    invite: 'Registration needs an invite code.',
    closed: 'Registration is closed: only admins make accounts.',
  }[mode] || '';
  return el('section', { class: 'card', 'aria-labelledby': 'setup-heading' },
    el('h3', { id: 'setup-heading', text: 'Set up your server' }),
    el('p', { text: 'You are the first user, so you are this server’s administrator.' }),
    el('p', { class: 'muted', text: how }),
    el('div', { class: 'row' },
      el('button', { type: 'button', text: 'Invite your team', onclick: () => actions.openAdmin('invites') }),
      el('button', { type: 'button', class: 'secondary', text: 'Add a user', onclick: () => actions.openAdmin('users') }),
      el('button', { type: 'button', class: 'secondary', text: 'Registration settings', onclick: () => actions.openAdmin('settings') })));
}

function gettingStarted(state, actions) {
  const joinable = state.publicRooms.filter((p) => !p.joined).slice(0, 6);
  const rooms = joinable.length
    ? el('ul', { class: 'join-list' }, ...joinable.map((p) => el('li', {},
      el('span', { class: 'name', text: `#${p.name}` }),
      el('span', { class: 'muted', text: p.topic || `${p.members} ${p.members === 1 ? 'member' : 'members'}` }),
      el('button', { type: 'button', class: 'secondary', 'data-join': p.name, text: 'Join', onclick: () => actions.joinRoom(p.id) }))))
    : el('p', { class: 'muted', text: 'There are no other public rooms yet.' });
  return el('div', {},
    el('h3', { text: 'Get started' }),
    el('ol', { class: 'steps' },
      el('li', {}, 'Join a room:', rooms),
      el('li', {}, el('button', { type: 'button', class: 'link', text: 'Create a room', onclick: () => actions.createRoom() }), ' for your team or project.'),
      el('li', {}, 'Message someone: pick a person under “People”.'),
      el('li', {}, el('button', { type: 'button', class: 'link', text: 'Set your name and picture', onclick: () => actions.editProfile() }), ' so people know who you are.')));
}

export function introItem(state, r, events, actions) {
  const empty = !events.some((e) => e.type === 'message') && r.pending.size === 0;
  const dm = r.info.kind === 'dm';
  const rooms = [...state.rooms.values()].filter((x) => x.info.kind !== 'dm').length;
  const newcomer = !dm && r.info.name === 'general' && rooms <= 1;
  const setup = Boolean(state.setup) && r.info.name === 'general';
  const keep = state.retentionDays(r);
  const sig = JSON.stringify([r.info.name, r.info.topic, empty, newcomer, keep, setup && state.setup,
    newcomer && state.publicRooms.map((p) => [p.id, p.joined])]);
  const make = () => {
    const title = dm ? `You and ${displayName(state, r.info.name)}` : `Welcome to #${r.info.name}`;
    const li = el('li', { class: 'intro' }, el('h2', { text: title }));
    li.append(el('p', { class: 'muted', text: dm
      ? 'This is the beginning of your direct messages.'
      : `This is ${keep ? 'the beginning of what' : 'the very beginning of'} #${r.info.name}${keep ? ' keeps' : ''}${r.info.topic ? ` — ${r.info.topic}` : ''}.` }));
    if (keep) li.append(el('p', { class: 'muted retention', text: `Messages here are removed after ${keep} ${keep === 1 ? 'day' : 'days'}.` }));
    if (empty) li.append(el('p', { class: 'empty', text: 'No messages yet. Say hello!' }));
    if (setup) li.append(setupSteps(state, actions));
    if (newcomer) li.append(gettingStarted(state, actions));
    return li;
  };
  return { key: 'intro', sig, make };
}
