// End-to-end encryption in the browser: this login's device, the very
// code the terminal client runs (securechat-crypto, compiled to
// WebAssembly: /app/crypto/). Its state is kept in localStorage, sealed
// with a key kept beside it (as private as the session cookie's origin).
//
// Sending: share the room key with every device of the room that lacks
// it, then encrypt (the server refuses, `keys_outdated`, a message whose
// key has not reached everyone). Receiving: to-device messages bring room
// keys; encrypted events are opened before they are shown. Files are
// sealed here before upload and opened here after download.

import init, { Device } from '../crypto/securechat_crypto_wasm.js';
import { api } from './api.js';

const ONE_TIME_KEYS = 50;
let wasm = null;

function loadWasm() {
  if (!wasm) wasm = init();
  return wasm;
}

// The users an encrypted message names (`@name`), told to the server in
// the clear so it can notify them.
export function mentioned(body) {
  const names = new Set();
  for (const m of body.matchAll(/(?:^|\s)@([a-z0-9._-]{1,32})/gi)) names.add(m[1].toLowerCase().replace(/[._-]+$/, ''));
  return [...names].filter(Boolean).slice(0, 100);
}

// Media types previewed inline once decrypted (never SVG or HTML).
const IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

// Seals a File for an encrypted room: the bytes to upload and the secrets
// its message carries (name, type, key, SHA-256 of the ciphertext).
export async function sealFile(file) {
  await loadWasm();
  const sealed = Device.encryptFile(new Uint8Array(await file.arrayBuffer()), file.name, file.type || 'application/octet-stream');
  return { bytes: sealed.bytes, secrets: JSON.parse(sealed.secrets) };
}

// Decrypted files of this page, by file id: an object URL each.
const opened = new Map();

// An object URL of an encrypted file, downloaded, checked against the
// SHA-256 its sender sealed and decrypted here.
export function openedFile(file) {
  if (!opened.has(file.id)) {
    const p = (async () => {
      await loadWasm();
      const res = await fetch(`/api/files/${file.id}`, { credentials: 'same-origin' });
      if (!res.ok) throw new Error(`the file cannot be downloaded (${res.status})`);
      const plain = Device.decryptFile(new Uint8Array(await res.arrayBuffer()), JSON.stringify(file.secrets));
      const type = file.image ? file.media_type : 'application/octet-stream';
      return URL.createObjectURL(new Blob([plain], { type }));
    })();
    p.catch(() => opened.delete(file.id));
    opened.set(file.id, p);
  }
  return opened.get(file.id);
}

export class E2E {
  constructor(me, deviceId) {
    this.me = me;
    this.deviceId = deviceId;
    this.slot = `securechat.e2e.${me.id}`;
    this.device = null;
    this.key = null;
    this.recovery = null;       // the backup's recovery key, once known here
    this.backedUp = new Set();  // "room/session" already in the backup
    this.warnings = [];         // changed identities, shown loudly
    this.undecryptable = 0;
  }

  // This browser's device for `me` (made and published on first use).
  static async open(me, deviceId) {
    await loadWasm();
    const e = new E2E(me, deviceId);
    const kept = JSON.parse(localStorage.getItem(e.slot) || 'null');
    if (kept && kept.device === deviceId) {
      try {
        e.device = Device.load(kept.saved, kept.key);
        e.key = kept.key;
        e.recovery = kept.recovery || null;
        e.backedUp = new Set(kept.backedUp || []);
      } catch (err) { console.warn('saved keys unreadable; a new device is made', err); }
    }
    if (!e.device) {
      e.key = Device.newPickleKey();
      e.device = Device.create(me.username, deviceId);
      e.save();
      await api('POST', '/api/keys', { device_keys: JSON.parse(e.device.deviceKeys()) });
    }
    await e.stock();
    return e;
  }

  save() {
    localStorage.setItem(this.slot, JSON.stringify({
      device: this.deviceId,
      key: this.key,
      saved: this.device.save(this.key),
      recovery: this.recovery,
      backedUp: [...this.backedUp],
    }));
  }

  // Keeps one-time keys published.
  async stock() {
    const up = await api('POST', '/api/keys', {});
    if (up.one_time_keys < ONE_TIME_KEYS / 2) {
      const keys = JSON.parse(this.device.newOneTimeKeys(ONE_TIME_KEYS - up.one_time_keys));
      this.save();
      await api('POST', '/api/keys', keys);
    }
  }

  observe(devices) {
    for (const c of JSON.parse(this.device.observe(JSON.stringify(devices)))) {
      this.warnings.push(`The keys of ${c.user}'s device ${c.device} CHANGED. Someone may be listening in: verify with ${c.user} before you trust it.`);
    }
  }

  // Gives every device of `room` that lacks it our room key.
  async share(room) {
    const devices = await api('GET', `/api/rooms/${room}/devices`);
    this.observe(devices);
    const plan = JSON.parse(this.device.planShare(room, JSON.stringify(devices)));
    let claimed = [];
    if (plan.claim.length) claimed = (await api('POST', '/api/keys/claim', { devices: plan.claim })).keys;
    const out = JSON.parse(this.device.share(room, JSON.stringify(plan.targets), JSON.stringify(claimed)));
    this.save();
    // A share counts once the server took it: a failed POST is made again
    // at the next send.
    for (let i = 0; i < out.length; i += 500) {
      const chunk = out.slice(i, i + 500);
      await api('POST', '/api/to_device', { messages: chunk });
      this.device.confirmShared(room, JSON.stringify(chunk));
      this.save();
    }
  }

  // `file`: the secrets of a file sealed by sealFile, which the message
  // carries.
  async encrypt(room, body, file = null) {
    await this.share(room);
    const enc = JSON.parse(this.device.encrypt(room, body, file ? JSON.stringify(file) : ''));
    this.save();
    return enc;
  }

  // A to-device message: the sender's keys looked up if new, then opened.
  async receive(ev) {
    if (!this.device.knownDevice(ev.from_device)) {
      this.observe(await api('POST', '/api/keys/query', { users: [ev.from] }));
    }
    try { this.device.receiveToDevice(JSON.stringify(ev)); } catch (err) { console.warn('a key could not be opened', err.message); }
    this.save();
    await this.backupNew().catch(() => {});
    await this.stock().catch(() => {});
  }

  // Opens an encrypted message or edit in place; false when its key has
  // not arrived (yet).
  open(ev) {
    if (!ev.encrypted || ev.deleted) return true;
    const from = ev.type === 'edited' ? ev.by : ev.from;
    try {
      const d = JSON.parse(this.device.decrypt(ev.room, from, JSON.stringify(ev.encrypted)));
      ev.body = d.body;
      ev.verified = d.verified;
      // The server knows the file only as nameless bytes.
      if (d.file && ev.file) {
        ev.file = {
          ...ev.file, name: d.file.name, media_type: d.file.media_type, size: d.file.size,
          image: IMAGES.has(d.file.media_type), secrets: d.file,
        };
      }
      return true;
    } catch (err) {
      if (String(err.message).startsWith('unknown_session')) return false;
      ev.body = `[cannot decrypt: ${err.message}]`;
      ev.undecryptable = true;
      return true;
    }
  }

  // An event whose key never came: shown as such, and counted.
  giveUp(ev, report = true) {
    ev.body = report
      ? 'Unable to decrypt: the key for this message has not reached this browser.'
      : 'Sent before this browser had its keys: restore your key backup to read it.';
    ev.undecryptable = true;
    if (report) {
      this.undecryptable += 1;
      api('POST', '/api/keys/report', { undecryptable: 1 }).catch(() => {});
    }
  }

  safetyCode(other) { return JSON.parse(this.device.safetyCode(JSON.stringify(other))); }

  // `username`'s devices as the server lists them (a changed identity is
  // flagged as everywhere else).
  async devicesOf(username) {
    const list = await api('POST', '/api/keys/query', { users: [username] });
    this.observe(list);
    return list.devices;
  }

  isVerified(device) { return this.device.isVerified(device); }

  setVerified(device, verified) {
    this.device.setVerified(device, verified);
    this.save();
  }

  deviceKeys() { return JSON.parse(this.device.deviceKeys()); }

  // A new backup: a recovery key (shown once), or one from a passphrase.
  async newBackup(passphrase = null) {
    let key; let salt = '';
    if (passphrase) { salt = Device.newSalt(); key = Device.passphraseKey(passphrase, salt); } else key = Device.newRecoveryKey();
    await api('PUT', '/api/keys/backup/info', JSON.parse(Device.backupInfo(key, salt)));
    this.recovery = key;
    this.backedUp = new Set();
    await this.backupNew();
    return key;
  }

  async backupNew() {
    if (!this.recovery) return;
    const skip = [...this.backedUp].map((s) => { const i = s.indexOf('/'); return [Number(s.slice(0, i)), s.slice(i + 1)]; });
    const entries = JSON.parse(this.device.backupEntries(this.recovery, JSON.stringify(skip)));
    for (let i = 0; i < entries.length; i += 500) await api('PUT', '/api/keys/backup', { keys: entries.slice(i, i + 500) });
    for (const e of entries) this.backedUp.add(`${e.room}/${e.session}`);
    this.save();
  }

  // Restores the backup with a recovery key or passphrase; returns how
  // many room keys were new.
  async restore(secret) {
    const backup = await api('GET', '/api/keys/backup');
    if (!backup.info) throw new Error('There is no key backup yet.');
    const key = backup.info.salt ? Device.passphraseKey(secret, backup.info.salt) : secret;
    let added;
    try { added = this.device.restore(key, JSON.stringify(backup)); } catch { throw new Error('That is not the right recovery key or passphrase.'); }
    this.recovery = key;
    this.backedUp = new Set(backup.keys.map((k) => `${k.room}/${k.session}`));
    this.save();
    return added;
  }

  async hasBackup() { return Boolean((await api('GET', '/api/keys/backup')).info); }
}
