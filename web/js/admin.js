// The admin page (admins only): server figures, the registration mode,
// users (search, add, disable/enable, admin or not, a new password) and
// invite codes (create, list, revoke). Everything the operator CLI does
// for users, over the admin API.

import { api, explain } from './api.js';
import { el, fullTime } from './format.js';
import { avatar } from './people.js';
import { confirmDialog, promptDialog, alertDialog } from './dialogs.js';

const $ = (id) => document.getElementById(id);

const MODES = [
  ['open', 'Open: anyone who can reach the server can register'],
  ['invite', 'Invite only: registering needs an invite code'],
  ['closed', 'Closed: only admins make accounts'],
];

function duration(secs) {
  const d = Math.floor(secs / 86400);
  const h = Math.floor((secs % 86400) / 3600);
  const m = Math.floor((secs % 3600) / 60);
  return d ? `${d} d ${h} h` : h ? `${h} h ${m} min` : `${m} min`;
}

export class AdminPage {
  constructor(state, onDone) {
    this.state = state;
    this.onDone = onDone;
    this.users = [];
    this.filter = '';
    this.lastCode = null;
  }

  async open(section) {
    const root = $('admin-view');
    const back = el('button', { type: 'button', class: 'secondary', text: 'Back to chat', onclick: () => this.onDone() });
    this.error = el('p', { class: 'error', role: 'alert' });
    this.statsBox = el('dl', { class: 'stats' });
    this.modeSelect = el('select', { id: 'registration-select' },
      ...MODES.map(([v, t]) => el('option', { value: v, text: t })));
    this.modeSelect.addEventListener('change', () => this.setMode(this.modeSelect.value));
    this.modeNote = el('p', { class: 'hint', role: 'status' });
    const search = el('input', { type: 'search', id: 'admin-user-search', placeholder: 'Search users', 'aria-label': 'Search users' });
    search.addEventListener('input', () => { this.filter = search.value.trim().toLowerCase(); this.renderUsers(); });
    this.usersBody = el('tbody');
    this.invitesBody = el('tbody');
    this.codeBox = el('div', { id: 'invite-code-box', 'aria-live': 'polite' });
    root.replaceChildren(
      el('header', {}, el('h2', { id: 'admin-heading', text: 'Administration' }),
        el('button', { type: 'button', class: 'secondary', id: 'admin-refresh', text: 'Refresh', onclick: () => this.refresh() }), back),
      this.error,
      el('section', { id: 'admin-stats', 'aria-labelledby': 'stats-h' }, el('h3', { id: 'stats-h', text: 'Server' }), this.statsBox),
      el('section', { id: 'admin-settings', 'aria-labelledby': 'reg-h' },
        el('h3', { id: 'reg-h', text: 'Registration' }),
        el('label', { for: 'registration-select', text: 'Who can make an account' }), this.modeSelect, this.modeNote),
      el('section', { id: 'admin-users', 'aria-labelledby': 'users-h' },
        el('h3', { id: 'users-h', text: 'Users' }),
        el('div', { class: 'toolbar' }, search,
          el('button', { type: 'button', id: 'add-user-button', text: 'Add user', onclick: () => this.addUser() })),
        el('div', { class: 'table-wrap' }, el('table', {},
          el('thead', {}, el('tr', {},
            el('th', { scope: 'col', text: 'User' }), el('th', { scope: 'col', text: 'Role' }),
            el('th', { scope: 'col', text: 'State' }), el('th', { scope: 'col', class: 'hide-narrow', text: 'Last seen' }),
            el('th', { scope: 'col', text: 'Actions' }))),
          this.usersBody))),
      el('section', { id: 'admin-invites', 'aria-labelledby': 'invites-h' },
        el('h3', { id: 'invites-h', text: 'Invite codes' }),
        el('p', { class: 'hint', text: 'A code lets one person register, for 7 days. It is shown once: copy it now.' }),
        el('div', { class: 'toolbar' }, el('button', { type: 'button', id: 'create-invite-button', text: 'Create invite code', onclick: () => this.createInvite() })),
        this.codeBox,
        el('div', { class: 'table-wrap' }, el('table', {},
          el('thead', {}, el('tr', {},
            el('th', { scope: 'col', text: 'Made' }), el('th', { scope: 'col', text: 'By' }),
            el('th', { scope: 'col', text: 'State' }), el('th', { scope: 'col', class: 'hide-narrow', text: 'Expires' }),
            el('th', { scope: 'col', text: 'Actions' }))),
          this.invitesBody))));
    await this.refresh();
    const target = section && $(`admin-${section}`);
    if (target) target.scrollIntoView();
  }

  async refresh() {
    try {
      const [stats, settings, users, invites] = await Promise.all([
        api('GET', '/api/admin/stats'), api('GET', '/api/admin/settings'),
        api('GET', '/api/admin/users'), api('GET', '/api/admin/invites')]);
      this.renderStats(stats);
      this.modeSelect.value = settings.registration;
      this.users = users.users;
      this.renderUsers();
      this.renderInvites(invites.invites);
      if (this.state.setup) this.state.setup = { users: stats.users, registration: settings.registration };
    } catch (e) { this.error.textContent = explain(e); }
  }

  renderStats(s) {
    const item = (label, value) => el('div', {}, el('dt', { text: label }), el('dd', { text: String(value) }));
    this.statsBox.replaceChildren(
      item('Users', s.users), item('Disabled', s.disabled_users), item('Online now', s.users_online),
      item('Connections', s.connections), item('Rooms', s.rooms), item('Messages', s.messages),
      item('Up for', duration(s.uptime_secs)));
  }

  renderUsers() {
    const me = this.state.me.username;
    const rows = this.users.filter((u) => !this.filter
      || u.username.includes(this.filter) || (u.display_name || '').toLowerCase().includes(this.filter));
    this.usersBody.replaceChildren(...rows.map((u) => {
      const self = u.username === me;
      const act = (text, label, fn, cls = 'secondary') => el('button', { type: 'button', class: cls, text, 'aria-label': `${label} ${u.username}`, onclick: fn });
      const actions = el('div', { class: 'row' });
      if (!self) {
        actions.append(u.disabled ? act('Enable', 'Enable', () => this.setDisabled(u, false)) : act('Disable', 'Disable', () => this.setDisabled(u, true)));
      }
      actions.append(u.is_admin ? act('Remove admin', 'Remove admin from', () => this.setRole(u, false)) : act('Make admin', 'Make admin', () => this.setRole(u, true)));
      actions.append(act('Set password', 'Set password for', () => this.setPassword(u)));
      actions.append(act('Reset link', 'Make a password reset link for', () => this.resetLink(u)));
      return el('tr', { 'data-admin-user': u.username },
        el('td', {}, el('span', { class: 'who' }, avatar(this.state, u.username, 'small'),
          el('span', { class: 'name', text: u.display_name ? `${u.display_name} (@${u.username})` : u.username }))),
        el('td', { text: u.is_admin ? 'admin' : 'member' }),
        el('td', { text: u.disabled ? 'disabled' : (u.online ? 'online' : 'active') }),
        el('td', { class: 'hide-narrow', text: u.online ? 'now' : (u.last_seen ? fullTime(u.last_seen) : 'never') }),
        el('td', {}, actions));
    }));
    if (!rows.length) this.usersBody.append(el('tr', {}, el('td', { colspan: '5', class: 'muted', text: 'No user matches.' })));
  }

  renderInvites(list) {
    this.invitesBody.replaceChildren(...list.map((i) => el('tr', { 'data-invite': String(i.id) },
      el('td', { text: fullTime(i.created) }),
      el('td', { text: i.created_by || '—' }),
      el('td', { text: i.state === 'used' && i.used_by ? `used by ${i.used_by}` : i.state }),
      el('td', { class: 'hide-narrow', text: fullTime(i.expires) }),
      el('td', {}, i.state === 'unused'
        ? el('button', { type: 'button', class: 'secondary', text: 'Revoke', 'aria-label': `Revoke invite made ${fullTime(i.created)}`, onclick: () => this.revoke(i) })
        : null))));
    if (!list.length) this.invitesBody.append(el('tr', {}, el('td', { colspan: '5', class: 'muted', text: 'No invite codes yet.' })));
  }

  async run(fn) {
    this.error.textContent = '';
    try { await fn(); } catch (e) { this.error.textContent = explain(e); }
    await this.refresh();
  }

  async setMode(mode) {
    // ("Saved." must be this change's, not the one before.)
    this.modeNote.textContent = 'Saving…';
    await this.run(async () => {
      await api('PATCH', '/api/admin/settings', { registration: mode });
      this.modeNote.textContent = 'Saved.';
    });
    // Refused (the error says why): nothing was saved.
    if (this.modeNote.textContent === 'Saving…') this.modeNote.textContent = '';
  }

  async setDisabled(u, disabled) {
    if (disabled && !(await confirmDialog(`Disable ${u.username}? They are logged out everywhere at once and cannot log in until enabled.`, { ok: 'Disable', danger: true }))) return;
    await this.run(() => api('POST', `/api/admin/users/${encodeURIComponent(u.username)}/${disabled ? 'disable' : 'enable'}`));
  }

  async setRole(u, isAdmin) {
    const text = isAdmin ? `Make ${u.username} an admin? Admins manage users, invites and settings.` : `Remove admin rights from ${u.username}?`;
    if (!(await confirmDialog(text, { ok: isAdmin ? 'Make admin' : 'Remove admin', danger: !isAdmin }))) return;
    await this.run(() => api('POST', `/api/admin/users/${encodeURIComponent(u.username)}/role`, { is_admin: isAdmin }));
  }

  async setPassword(u) {
    const pw = await promptDialog(`A new password for ${u.username}. Their sessions end; tell them the new password.`,
      { label: 'New password', type: 'password' }, { ok: 'Set password' });
    if (pw === null) return;
    await this.run(() => api('POST', `/api/admin/users/${encodeURIComponent(u.username)}/password`, { new_password: pw }));
  }

  // A one-time link (24 hours) for the user to choose a password; the
  // admin passes it on privately.
  async resetLink(u) {
    let res;
    try { res = await api('POST', `/api/admin/users/${encodeURIComponent(u.username)}/reset-link`); } catch (e) { this.error.textContent = explain(e); return; }
    const copy = await promptDialog(`A password reset link for ${u.username}: it works once, for 24 hours, and replaces any earlier one. Send it to them privately.`,
      { label: 'Reset link', value: res.link }, { ok: 'Copy', cancel: 'Close' });
    if (copy !== null) navigator.clipboard.writeText(res.link).catch(() => {});
  }

  async addUser() {
    const name = await promptDialog('Add a user: their username.', { label: 'Username' }, { ok: 'Next' });
    if (name === null) return;
    const pw = await promptDialog(`A password for ${name}; tell it to them.`, { label: 'Password', type: 'password' }, { ok: 'Add user' });
    if (pw === null) return;
    await this.run(async () => {
      await api('POST', '/api/admin/users', { username: name, password: pw });
    });
  }

  async createInvite() {
    await this.run(async () => {
      const res = await api('POST', '/api/admin/invites', {});
      const code = el('code', { class: 'code', id: 'invite-code', text: res.invite_code });
      const copy = el('button', { type: 'button', class: 'secondary', text: 'Copy', onclick: async () => {
        try { await navigator.clipboard.writeText(res.invite_code); copy.textContent = 'Copied'; } catch { await alertDialog('Select the code and copy it.'); }
      } });
      this.codeBox.replaceChildren(el('p', {}, 'New code (valid until ', fullTime(res.expires), '):'), el('div', { class: 'row' }, code, copy));
    });
  }

  async revoke(i) {
    if (!(await confirmDialog('Revoke this invite code? Nobody can register with it any more.', { ok: 'Revoke', danger: true }))) return;
    await this.run(() => api('DELETE', `/api/admin/invites/${i.id}`));
  }
}
