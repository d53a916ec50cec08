// Encryption and devices: the user's devices (remove one), the key backup
// (a recovery key or a passphrase, shown once; restore on a new device),
// and verifying someone's devices by comparing safety codes. Also the
// offer of a backup at the first encrypted conversation, and of a restore
// on a new device whose backup exists.

import { api, explain } from './api.js';
import { el } from './format.js';
import { confirmDialog, alertDialog, promptDialog } from './dialogs.js';

const $ = (id) => document.getElementById(id);

// A short, readable form of a public key (to tell devices apart).
const short = (key) => key.slice(0, 8).replace(/(.{4})/g, '$1 ').trim();

export class Security {
  // `e2e()`: a promise of this browser's E2E device (or null).
  constructor(e2e) {
    this.e2e = e2e;
    this.offered = false;
    $('backup-create').addEventListener('click', () => this.create(false));
    $('backup-passphrase').addEventListener('click', () => this.create(true));
    $('backup-restore').addEventListener('click', () => this.restore());
    $('recovery-copy').addEventListener('click', () => {
      navigator.clipboard.writeText($('recovery-key').textContent).then(() => { $('recovery-copy').textContent = 'Copied'; }, () => {});
    });
  }

  async device() {
    const e = await this.e2e();
    if (!e) alertDialog('End-to-end encryption is not available in this browser.');
    return e;
  }

  async open() {
    const e = await this.device();
    if (!e) return;
    $('recovery-show').hidden = true;
    await Promise.all([this.listDevices(e), this.showBackup(e)]);
    if (!$('security-dialog').open) $('security-dialog').showModal();
  }

  async listDevices(e) {
    const list = $('device-list');
    let devices;
    try { devices = (await api('GET', '/api/devices')).devices; } catch (err) { list.replaceChildren(el('li', { text: explain(err) })); return; }
    list.replaceChildren(...devices.map((d) => {
      const mine = d.device === e.deviceId;
      const item = el('li', { 'data-device': String(d.device) },
        el('span', { class: 'device-name', text: `Device ${d.device}${mine ? ' (this browser)' : ''}` }),
        el('code', { class: 'device-key', text: short(d.ed25519), title: 'The start of its signing key' }));
      if (!mine) {
        item.append(el('button', {
          type: 'button', class: 'secondary', text: 'Remove',
          'aria-label': `Remove device ${d.device}`,
          onclick: async () => {
            if (!(await confirmDialog(`Remove device ${d.device}? It is logged out, and it cannot read messages sent from now on.`, { ok: 'Remove', danger: true }))) return;
            try { await api('DELETE', `/api/devices/${d.device}`); } catch (err) { alertDialog(explain(err)); }
            this.open();
          },
        }));
      }
      return item;
    }));
  }

  async showBackup(e) {
    let has = false;
    try { has = await e.hasBackup(); } catch { /* shown as unknown below */ }
    $('backup-status').textContent = !has
      ? 'No key backup yet. Without one, a new device (or this browser after its data is cleared) cannot read the messages sent before it.'
      : (e.recovery
        ? 'Your room keys are backed up, sealed with your recovery key. This browser adds new keys as they come.'
        : 'You have a key backup. Restore it to read, here, the messages sent before this browser had its keys.');
    $('backup-restore').hidden = !has || Boolean(e.recovery);
    $('backup-create').textContent = has ? 'New recovery key' : 'Create a recovery key';
  }

  // A new backup: a recovery key shown once, or one from a passphrase.
  async create(withPassphrase) {
    const e = await this.device();
    if (!e) return;
    if (await e.hasBackup().catch(() => false)
      && !(await confirmDialog('A new key replaces your backup: devices restore with the new one from now on. Go on?', { ok: 'Replace' }))) return;
    let passphrase = null;
    if (withPassphrase) {
      passphrase = await promptDialog('A passphrase for your key backup (at least 12 characters; a few words are best).', { label: 'Passphrase', type: 'password' }, { ok: 'Next' });
      if (passphrase === null) return;
      if (passphrase.length < 12) { alertDialog('That passphrase is too short: use at least 12 characters.'); return; }
      const again = await promptDialog('The same passphrase again.', { label: 'Passphrase', type: 'password' }, { ok: 'Create backup' });
      if (again !== passphrase) { alertDialog('The passphrases differ: nothing was changed.'); return; }
    }
    let key;
    try { key = await e.newBackup(passphrase); } catch (err) { alertDialog(explain(err)); return; }
    $('security-banner').hidden = true;
    await this.open();
    if (!withPassphrase) {
      $('recovery-key').textContent = key;
      $('recovery-copy').textContent = 'Copy';
      $('recovery-show').hidden = false;
    }
  }

  async restore() {
    const e = await this.device();
    if (!e) return;
    const secret = await promptDialog('Your recovery key or passphrase.', { label: 'Recovery key or passphrase', type: 'password' }, { ok: 'Restore' });
    if (secret === null) return;
    try {
      const added = await e.restore(secret.trim());
      await alertDialog(`Restored ${added} room key${added === 1 ? '' : 's'}. The app reloads to show what they open.`);
      location.reload();
    } catch (err) { alertDialog(err.message || explain(err)); }
  }

  // Verification: `username`'s devices with the safety code each makes
  // with this browser's device.
  async verify(username) {
    const e = await this.device();
    if (!e) return;
    let devices;
    try { devices = await e.devicesOf(username); } catch (err) { alertDialog(explain(err)); return; }
    $('verify-name').textContent = username;
    const list = $('verify-list');
    if (!devices.length) list.replaceChildren(el('li', { text: `${username} has no devices with encryption keys yet.` }));
    else {
      list.replaceChildren(...devices.map((d) => {
        const code = e.safetyCode(d);
        const state = el('span', { class: 'verified-state' });
        const toggle = el('button', { type: 'button' });
        const show = () => {
          const yes = e.isVerified(d.device);
          state.textContent = yes ? '✓ Verified' : 'Not verified';
          state.classList.toggle('yes', yes);
          toggle.textContent = yes ? 'Unverify' : 'They match';
          toggle.className = yes ? 'secondary' : '';
        };
        toggle.addEventListener('click', () => { e.setVerified(d.device, !e.isVerified(d.device)); show(); });
        show();
        return el('li', { 'data-device': String(d.device) },
          el('div', { class: 'verify-head' }, el('strong', { text: `Device ${d.device}` }), state),
          el('p', { class: 'safety-emoji', 'aria-label': `Safety code: ${code.emoji.join(' ')}`, text: code.emoji.join(' ') }),
          el('p', { class: 'safety-digits', text: code.digits }),
          el('div', { class: 'row' }, toggle));
      }));
    }
    $('verify-dialog').showModal();
  }

  // At the first encrypted conversation of this page: the offer of a
  // backup (none yet), or of a restore (one exists, not opened here).
  async offer() {
    if (this.offered) return;
    this.offered = true;
    const e = await this.e2e();
    if (!e || e.recovery) return;
    const has = await e.hasBackup().catch(() => null);
    if (has === null) return;
    const dismissed = `securechat.backup-later.${e.me.id}`;
    if (!has) {
      if (Number(localStorage.getItem(dismissed) || 0) > Date.now()) return;
      this.banner('Keep your encrypted messages readable on your next device: create a recovery key. Without one, a new login cannot read what was sent before it.',
        'Create recovery key', async () => { await this.open(); await this.create(false); },
        'Later', () => localStorage.setItem(dismissed, String(Date.now() + 7 * 86400 * 1000)));
    } else {
      this.banner('This browser is a new device: the messages sent before it are in your key backup. Restore it with your recovery key or passphrase.',
        'Restore', () => this.restore(), 'Not now', () => {});
    }
  }

  // A quiet offer above the conversation: it takes no focus and blocks
  // nothing; either button puts it away.
  banner(text, ok, onOk, later, onLater) {
    $('security-banner-text').textContent = text;
    const close = (then) => () => { $('security-banner').hidden = true; then(); };
    $('security-banner-ok').textContent = ok;
    $('security-banner-ok').onclick = close(onOk);
    $('security-banner-later').textContent = later;
    $('security-banner-later').onclick = close(onLater);
    $('security-banner').hidden = false;
  }
}
