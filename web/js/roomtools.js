// Per-room tools: notification settings (all / mentions / nothing, and
// mute; kept on the server), the pinned messages, links to a message
// (`#/room/ID/message/SEQ`, which opens the room scrolled to it), and
// archiving or deleting a room (admins).

import { api, explain } from './api.js';
import { el, fullTime } from './format.js';
import { displayName } from './people.js';
import { alertDialog, confirmDialog } from './dialogs.js';

const $ = (id) => document.getElementById(id);

export function linkTo(ev) {
  return `${location.origin}/#/room/${ev.room}/message/${ev.seq}`;
}

// `#/room/ID/message/SEQ` → {room, seq}, or null.
export function parseLink(hash) {
  const m = /^#\/room\/(\d+)\/message\/(\d+)$/.exec(hash);
  return m ? { room: Number(m[1]), seq: Number(m[2]) } : null;
}

export async function copyLink(ev) {
  const link = linkTo(ev);
  try {
    await navigator.clipboard.writeText(link);
    toast('Link copied');
  } catch {
    alertDialog(`Copy this link: ${link}`);
  }
}

export function toast(text) {
  const t = $('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 2500);
}

export async function pin(ev, pinned) {
  try {
    await api(pinned ? 'PUT' : 'DELETE', `/api/rooms/${ev.room}/messages/${ev.id}/pin`);
    toast(pinned ? 'Pinned' : 'Unpinned');
  } catch (e) { alertDialog(explain(e)); }
}

export function wireRoomTools(state, hooks) {
  // Archiving: read-only for everyone until opened again.
  $('archive-button').addEventListener('click', async () => {
    const r = state.room(state.current);
    if (!r) return;
    const archive = !r.info.archived;
    if (archive && !(await confirmDialog(`Archive #${r.info.name}? Everyone can still read it; nobody can add to it until it is opened again.`, { ok: 'Archive' }))) return;
    try {
      const res = await api('POST', `/api/rooms/${r.info.id}/archive`, { archived: archive });
      state.upsertRoom(res.room);
      state.changed();
    } catch (e) { alertDialog(explain(e)); }
  });
  // Deleting a room: everything in it goes, for everyone.
  $('delete-room-button').addEventListener('click', async () => {
    const r = state.room(state.current);
    if (!r) return;
    const sure = await confirmDialog(`Delete #${r.info.name} for everyone? Its messages, files, reactions and pins are gone for good; its members are told at once.`, { ok: 'Delete room', danger: true });
    if (!sure) return;
    try { await api('DELETE', `/api/rooms/${r.info.id}`); } catch (e) { alertDialog(explain(e)); }
  });
  // Notification settings.
  $('notify-settings-button').addEventListener('click', () => {
    const r = state.room(state.current);
    if (!r) return;
    for (const input of document.querySelectorAll('input[name="notify-level"]')) input.checked = input.value === (r.info.notify || 'all');
    $('notify-muted').checked = Boolean(r.info.muted);
    $('notify-error').textContent = '';
    $('notify-dialog').showModal();
  });
  $('notify-form').addEventListener('submit', async (e) => {
    if (e.submitter && e.submitter.value !== 'save') return;
    e.preventDefault();
    const level = document.querySelector('input[name="notify-level"]:checked')?.value || 'all';
    try {
      const { room } = await api('PUT', `/api/rooms/${state.current}/notifications`, { level, muted: $('notify-muted').checked });
      state.upsertRoom(room);
      state.changed();
      $('notify-dialog').close();
    } catch (err) { $('notify-error').textContent = explain(err); }
  });

  // Pinned messages.
  $('pins-button').addEventListener('click', async () => {
    const room = state.current;
    try {
      const { pins } = await api('GET', `/api/rooms/${room}/pins`);
      $('pins-empty').hidden = pins.length > 0;
      $('pins-list').replaceChildren(...pins.map((ev) => el('li', {}, el('button', {
        type: 'button', 'data-pin': String(ev.id),
        onclick: () => { $('pins-dialog').close(); hooks.openAt(room, ev.seq); },
      }, el('span', { class: 'where' }, el('b', { text: displayName(state, ev.from) }), el('time', { datetime: ev.ts, text: fullTime(ev.ts) })),
      el('span', { class: 'snippet', dir: 'auto', text: ev.body.slice(0, 300) || (ev.file ? ev.file.name : '') })))));
      $('pins-dialog').showModal();
    } catch (e) { alertDialog(explain(e)); }
  });

  // Links to a message: on load and whenever the address changes.
  const follow = () => {
    const link = parseLink(location.hash);
    if (!link || !state.room(link.room)) return false;
    history.replaceState(null, '', location.pathname);
    hooks.openAt(link.room, link.seq);
    return true;
  };
  window.addEventListener('hashchange', follow);
  return follow;
}
