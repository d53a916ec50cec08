// Integrations: your personal API tokens (account menu → API tokens) and a
// room's webhooks (room header → Integrations). A new token, incoming
// webhook URL or signing secret is shown once, with a Copy button.

import { api, explain } from './api.js';
import { el, fullTime } from './format.js';
import { confirmDialog } from './dialogs.js';
import { toast } from './roomtools.js';

const $ = (id) => document.getElementById(id);

async function copy(text) {
  try { await navigator.clipboard.writeText(text); toast('Copied'); } catch { toast('Select it and copy it'); }
}

// Shows a secret once in `box` (with `label` above it).
function reveal(box, label, secret) {
  box.replaceChildren(
    el('p', {}, el('strong', { text: label }), ' Copy it now: it is not shown again.'),
    el('code', { class: 'recovery-key', text: secret }),
    el('button', { type: 'button', class: 'secondary', text: 'Copy', onclick: () => copy(secret) }));
  box.hidden = false;
}

const SCOPE_WORDS = { read: 'read', write: 'write', admin: 'administration' };

function tokenRow(t, onRevoke) {
  const when = [`made ${fullTime(t.created_at)}`,
    t.last_used_at ? `last used ${fullTime(t.last_used_at)}` : 'never used',
    t.expires_at ? `expires ${fullTime(t.expires_at)}` : 'never expires'].join(' · ');
  return el('li', { class: 'integration' },
    el('div', {}, el('strong', { text: t.name }), ' ',
      el('span', { class: 'tag', text: t.scopes.map((s) => SCOPE_WORDS[s] || s).join(', ') }),
      el('p', { class: 'muted', text: when })),
    el('button', { type: 'button', class: 'secondary danger-text', text: 'Revoke', 'aria-label': `Revoke ${t.name}`, onclick: onRevoke }));
}

export function wireTokens(state) {
  const error = $('tokens-error');
  const list = $('token-list');
  const refresh = async () => {
    try {
      const { tokens } = await api('GET', '/api/tokens');
      list.replaceChildren(...tokens.map((t) => tokenRow(t, async () => {
        if (!(await confirmDialog(`Revoke the token “${t.name}”? Anything using it stops working at once.`, { ok: 'Revoke', danger: true }))) return;
        try { await api('DELETE', `/api/tokens/${t.id}`); await refresh(); } catch (e) { error.textContent = explain(e); }
      })));
      $('tokens-empty').hidden = tokens.length > 0;
    } catch (e) { error.textContent = explain(e); }
  };
  $('tokens-button').addEventListener('click', async () => {
    error.textContent = '';
    $('token-new').hidden = true;
    $('token-admin-label').hidden = !state.me.is_admin;
    $('tokens-dialog').showModal();
    $('token-name').focus();
    await refresh();
  });
  $('token-create').addEventListener('click', async () => {
    error.textContent = '';
    const scopes = ['read', 'write', 'admin'].filter((s) => $(`token-${s}`).checked);
    const days = $('token-expiry').value;
    try {
      const t = await api('POST', '/api/tokens', {
        name: $('token-name').value, scopes, ...(days ? { expires_days: Number(days) } : {}),
      });
      reveal($('token-new'), `Your token “${t.name}”.`, t.token);
      $('token-name').value = '';
      await refresh();
    } catch (e) { error.textContent = explain(e); }
  });
}

function hookRow(h, canDelete, onDelete) {
  const what = h.kind === 'incoming'
    ? 'incoming: posts here'
    : `outgoing to ${h.url}${h.triggers && h.triggers.length ? ` · on ${h.triggers.join(' ')}` : ''}`;
  return el('li', { class: 'integration' },
    el('div', {}, el('strong', { text: h.name }), ' ', el('span', { class: 'tag', text: h.kind }),
      el('p', { class: 'muted', text: `${what} · by ${h.owner}, ${fullTime(h.created_at)}` })),
    canDelete ? el('button', { type: 'button', class: 'secondary danger-text', text: 'Delete', 'aria-label': `Delete ${h.name}`, onclick: onDelete }) : null);
}

export function wireWebhooks(state) {
  const error = $('hooks-error');
  const list = $('hook-list');
  let room = null;
  const kind = () => document.querySelector('input[name="hook-kind"]:checked').value;
  const refresh = async () => {
    try {
      const { webhooks } = await api('GET', `/api/rooms/${room.id}/webhooks`);
      // (The room's creator may delete any too; the server says so if asked.)
      const mayDelete = (h) => state.me.is_admin || h.owner === state.me.username;
      list.replaceChildren(...webhooks.map((h) => hookRow(h, mayDelete(h), async () => {
        if (!(await confirmDialog(`Delete the webhook “${h.name}”?`, { ok: 'Delete', danger: true }))) return;
        try { await api('DELETE', `/api/rooms/${room.id}/webhooks/${h.id}`); await refresh(); } catch (e) { error.textContent = explain(e); }
      })));
      $('hooks-empty').hidden = webhooks.length > 0;
    } catch (e) { error.textContent = explain(e); }
  };
  for (const radio of document.querySelectorAll('input[name="hook-kind"]')) {
    radio.addEventListener('change', () => { $('hook-outgoing').hidden = kind() !== 'outgoing'; });
  }
  $('integrations-button').addEventListener('click', async () => {
    const r = state.room(state.current);
    if (!r) return;
    room = r.info;
    error.textContent = '';
    $('hook-new').hidden = true;
    $('hooks-title').textContent = `Integrations of ${room.kind === 'dm' ? 'this conversation' : `#${room.name}`}`;
    $('hook-outgoing').hidden = kind() !== 'outgoing';
    $('hooks-dialog').showModal();
    $('hook-name').focus();
    await refresh();
  });
  $('hook-create').addEventListener('click', async () => {
    error.textContent = '';
    const body = { kind: kind(), name: $('hook-name').value };
    if (body.kind === 'outgoing') {
      body.url = $('hook-url').value.trim();
      body.triggers = $('hook-triggers').value.split(/\s+/).filter(Boolean);
    }
    try {
      const h = await api('POST', `/api/rooms/${room.id}/webhooks`, body);
      if (h.hook_url) reveal($('hook-new'), `The URL of “${h.name}”: POST {"text": "…"} to it.`, h.hook_url);
      else reveal($('hook-new'), `The signing secret of “${h.name}”.`, h.secret);
      $('hook-name').value = '';
      await refresh();
    } catch (e) { error.textContent = explain(e); }
  });
}
