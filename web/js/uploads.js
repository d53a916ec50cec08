// File uploads: from the Attach button, drag-and-drop or paste. Each shows
// a progress bar with Cancel; the server posts the message itself, so the
// file arrives in the room like any message. During an outage uploads wait
// and go out when the server is back, as text messages do. In an
// end-to-end encrypted room the file is sealed here first, goes up as
// nameless ciphertext, and an encrypted message then carries its name and
// key; it is downloaded and opened here too.

import { el } from './format.js';
import { openedFile } from './e2e.js';

const $ = (id) => document.getElementById(id);

export function humanSize(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u += 1; }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

// Longest wait between tries while the server cannot be reached.
const MAX_WAIT_MS = 15000;

// Uploads `file` to `room`; resolves when done, cancelled or refused.
// With `sealer` (an encrypted room): `seal(file)` gives the bytes to send
// and their secrets, and `post(fileId, secrets)` sends the message.
// While the server cannot be reached the upload waits and tries again by
// itself (1 s, 2 s, 4 s, … 15 s), and after a 429 it waits what the server
// says; every try carries the same client_msg_id, so the file's message is
// stored once however often it is sent.
export function upload(room, file, sealer = null) {
  return new Promise((resolve) => {
    let sealed = null;
    const id = crypto.randomUUID();
    let xhr = null;
    let timer = null;
    let attempt = 0;
    let over = false;
    const bar = el('progress', { max: String(file.size || 1), value: '0', 'aria-label': `Uploading ${file.name}` });
    const label = el('span', { text: `${file.name} (${humanSize(file.size)})` });
    const cancel = el('button', {
      type: 'button', class: 'secondary', text: 'Cancel',
      onclick: () => { if (xhr) xhr.abort(); else { clearTimeout(timer); done('cancelled'); } },
    });
    const row = el('li', { 'data-upload': file.name }, label, bar, cancel);
    $('uploads').append(row);
    function done(text) {
      if (over) return;
      over = true;
      if (text) { label.textContent = `${file.name}: ${text}`; cancel.remove(); setTimeout(() => row.remove(), 4000); }
      else row.remove();
      resolve();
    }
    function later(ms, why) {
      xhr = null;
      bar.value = 0;
      row.dataset.waiting = '1';
      label.textContent = `${file.name}: ${why} — trying again in ${Math.ceil(ms / 1000)} s`;
      timer = setTimeout(start, ms);
    }
    function start() {
      row.dataset.waiting = '';
      label.textContent = `${file.name} (${humanSize(file.size)})`;
      xhr = new XMLHttpRequest();
      xhr.upload.onprogress = (e) => { bar.value = e.loaded; };
      xhr.onload = () => {
        if (xhr.status === 201) {
          if (sealed) sealer.post(JSON.parse(xhr.responseText).file.id, sealed.secrets);
          done(null);
          return;
        }
        if (xhr.status === 429) {
          const secs = Number(xhr.getResponseHeader('retry-after')) || 5;
          later(secs * 1000, 'too many uploads');
          return;
        }
        let message = `failed (${xhr.status})`;
        try { message = JSON.parse(xhr.responseText).error.message; } catch { /* keep the status */ }
        done(message);
      };
      xhr.onerror = () => {
        attempt += 1;
        later(Math.min(MAX_WAIT_MS, 1000 * 2 ** Math.min(attempt - 1, 4)), 'waiting for the connection');
      };
      xhr.onabort = () => done('cancelled');
      if (sealed) {
        xhr.open('POST', `/api/rooms/${room}/files`);
        xhr.setRequestHeader('content-type', 'application/octet-stream');
        xhr.send(new Blob([sealed.bytes]));
        return;
      }
      const query = `name=${encodeURIComponent(file.name)}&client_msg_id=${id}`;
      xhr.open('POST', `/api/rooms/${room}/files?${query}`);
      xhr.setRequestHeader('content-type', file.type || 'application/octet-stream');
      xhr.send(file);
    }
    if (!sealer) { start(); return; }
    label.textContent = `${file.name}: encrypting…`;
    sealer.seal(file).then((s) => { sealed = s; bar.max = s.bytes.length || 1; start(); })
      .catch((err) => done(`cannot encrypt: ${err.message}`));
  });
}

// What kind of file, in a word, and a short label for its icon.
function kindOf(file) {
  const t = file.media_type || '';
  const ext = (file.name.match(/\.([A-Za-z0-9]{1,4})$/) || [])[1];
  const label = ext ? ext.toUpperCase() : 'FILE';
  if (file.image || t.startsWith('image/')) return ['Image', label];
  if (t === 'application/pdf') return ['PDF document', label];
  if (t.startsWith('text/')) return ['Text', label];
  if (t.startsWith('audio/')) return ['Audio', label];
  if (t.startsWith('video/')) return ['Video', label];
  if (/zip|tar|gzip|compressed|7z|rar/.test(t)) return ['Archive', label];
  return ['File', label];
}

// Saves an encrypted file: downloaded and opened here, then handed to the
// browser as a download.
async function saveOpened(file, link) {
  try {
    const a = el('a', { href: await openedFile(file), download: file.name });
    a.click();
  } catch (err) {
    link.textContent = `${file.name}: ${err.message}`;
  }
}

// The attachment of a message: for checked images a preview that opens
// the viewer; for every file a card with name, kind and size that
// downloads it. Nothing uploaded is ever shown inline but checked images
// (an encrypted file's type is its sender's word: only the four image
// types are ever previewed, from the decrypted bytes).
export function attachment(file, openImage) {
  const box = el('div', { class: 'attachment' });
  const href = `/api/files/${file.id}`;
  if (file.image) {
    const img = el('img', { alt: file.name, loading: 'lazy' });
    if (file.secrets) openedFile(file).then((url) => { img.src = url; }).catch(() => { img.alt = `${file.name} (cannot be opened)`; });
    else img.src = `${href}?inline=true`;
    box.append(el('button', { type: 'button', class: 'preview', 'aria-label': `Open image ${file.name}`, onclick: () => openImage(file) }, img));
  }
  const [kind, label] = kindOf(file);
  const link = file.secrets
    ? el('a', { href: '#', class: 'file-link', text: file.name, onclick: (e) => { e.preventDefault(); saveOpened(file, link); } })
    : el('a', { href, download: file.name, class: 'file-link', text: file.name });
  box.append(el('div', { class: 'file-card' },
    el('span', { class: 'file-kind', 'aria-hidden': 'true', text: label }),
    el('div', { class: 'file-text' }, link,
      el('span', { class: 'size', text: `${kind}${file.secrets ? ' · encrypted' : ''} · ${humanSize(file.size)}` }))));
  return box;
}

// Wires the button, drag-and-drop on the conversation, and paste.
// `sealerFor(room)`: null, or the sealer of an encrypted room (see upload).
export function wireUploads(currentRoom, sealerFor) {
  const send = (files) => { const room = currentRoom(); if (room) for (const f of files) upload(room, f, sealerFor(room)); };
  $('attach-button').addEventListener('click', () => $('file-input').click());
  $('file-input').addEventListener('change', (e) => { send([...e.target.files]); e.target.value = ''; });
  const chat = document.querySelector('.chat');
  chat.addEventListener('dragover', (e) => { e.preventDefault(); chat.classList.add('dropping'); });
  chat.addEventListener('dragleave', () => chat.classList.remove('dropping'));
  chat.addEventListener('drop', (e) => {
    e.preventDefault();
    chat.classList.remove('dropping');
    send([...e.dataTransfer.files]);
  });
  $('message-input').addEventListener('paste', (e) => {
    const files = [...(e.clipboardData ? e.clipboardData.files : [])];
    if (files.length) { e.preventDefault(); send(files); }
  });
}
