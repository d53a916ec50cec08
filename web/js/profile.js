// Your profile: display name, status and picture (PATCH /api/me,
// PUT/DELETE /api/me/avatar).

import { api, explain } from './api.js';
import { avatar } from './people.js';

const $ = (id) => document.getElementById(id);
const AVATAR_MAX = 256 * 1024;

export function wireProfile(state) {
  const error = $('profile-error');
  const showPicture = () => $('profile-avatar').replaceChildren(avatar(state, state.me.username, 'large'));
  const apply = (res) => {
    state.setPerson({ ...(state.people.get(state.me.username) || { username: state.me.username }), ...res.profile, username: state.me.username });
    showPicture();
    $('avatar-remove').hidden = !res.profile.avatar;
  };

  $('profile-button').addEventListener('click', async () => {
    error.textContent = '';
    try {
      const me = await api('GET', '/api/me');
      $('profile-display-name').value = me.profile.display_name || '';
      $('profile-status').value = me.profile.status || '';
      apply(me);
    } catch (e) { error.textContent = explain(e); }
    $('profile-dialog').showModal();
    $('profile-display-name').focus();
  });

  $('profile-form').addEventListener('submit', async (e) => {
    if (e.submitter && e.submitter.value !== 'save') return;
    e.preventDefault();
    error.textContent = '';
    try {
      apply(await api('PATCH', '/api/me', {
        display_name: $('profile-display-name').value,
        status: $('profile-status').value,
      }));
      $('profile-dialog').close();
    } catch (err) { error.textContent = explain(err); }
  });

  $('avatar-upload').addEventListener('click', () => $('avatar-input').click());
  $('avatar-input').addEventListener('change', async (e) => {
    const file = e.target.files[0];
    e.target.value = '';
    if (!file) return;
    error.textContent = '';
    if (file.size > AVATAR_MAX) { error.textContent = 'A profile picture may be at most 256 KiB.'; return; }
    try {
      const res = await fetch('/api/me/avatar', {
        method: 'PUT', body: file, credentials: 'same-origin',
        headers: { 'content-type': file.type || 'application/octet-stream' },
      });
      const data = await res.json();
      if (!res.ok) { error.textContent = data.error ? data.error.message : 'The picture was refused.'; return; }
      apply(data);
    } catch { error.textContent = 'The server cannot be reached.'; }
  });

  $('avatar-remove').addEventListener('click', async () => {
    error.textContent = '';
    try { apply(await api('DELETE', '/api/me/avatar')); } catch (err) { error.textContent = explain(err); }
  });
}
