// The app's dialogs and menu actions that are not a room tool: a new room,
// the public rooms to browse, inviting, leaving, the password change, and
// the account menu closing on a choice.

import { api, explain } from './api.js';
import { confirmDialog, alertDialog } from './dialogs.js';

const $ = (id) => document.getElementById(id);

export function openRoomDialog() {
  $('room-error').textContent = '';
  $('room-dialog').showModal();
}

// `hooks`: openRoom(id), refreshPublic(), showPublic(rooms), openSecurity().
export function wireDialogs(state, hooks) {
  $('new-room-button').addEventListener('click', openRoomDialog);
  $('room-form').addEventListener('submit', async (e) => {
    if (e.submitter && e.submitter.value !== 'create') return;
    e.preventDefault();
    const name = $('room-name-input').value.trim();
    const members = $('room-members-input').value.split(',').map((s) => s.trim()).filter(Boolean);
    const body = { kind: $('room-kind-input').value, members };
    if (body.kind === 'private' && $('room-encrypted-input').checked) body.encrypted = true;
    if (name) body.name = name;
    const topic = $('room-topic-input').value.trim();
    if (topic) body.topic = topic;
    try {
      const { room } = await api('POST', '/api/rooms', body);
      state.upsertRoom(room);
      $('room-dialog').close();
      $('room-form').reset();
      hooks.refreshPublic();
      hooks.openRoom(room.id);
    } catch (err) { $('room-error').textContent = explain(err); }
  });
  $('browse-button').addEventListener('click', async () => {
    try {
      const rooms = (await api('GET', '/api/rooms')).public;
      state.publicRooms = rooms;
      hooks.showPublic(rooms);
      $('browse-dialog').showModal();
    } catch (e) { alertDialog(explain(e)); }
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
    const r = state.room(state.current);
    if (!r || !(await confirmDialog(`Leave #${r.info.name}?${r.info.kind === 'private' ? ' You need an invite to come back.' : ''}`, { ok: 'Leave' }))) return;
    try { await api('POST', `/api/rooms/${r.info.id}/leave`); } catch (e) { alertDialog(explain(e)); }
  });
  $('security-button').addEventListener('click', () => hooks.openSecurity());
  $('password-button').addEventListener('click', () => { $('password-error').textContent = ''; $('password-dialog').showModal(); });
  // A chosen menu item closes the menu (the theme choice keeps it open).
  document.querySelector('.user-menu .menu').addEventListener('click', (e) => {
    if (e.target.closest('button')) document.querySelector('.user-menu').open = false;
  });
  $('password-form').addEventListener('submit', async (e) => {
    if (e.submitter && e.submitter.value !== 'save') return;
    e.preventDefault();
    try {
      await api('POST', '/api/password', { old_password: $('old-password').value, new_password: $('new-password').value });
      $('password-dialog').close();
      $('password-form').reset();
    } catch (err) { $('password-error').textContent = explain(err); }
  });
}
