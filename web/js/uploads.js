// File uploads: from the Attach button, drag-and-drop or paste. Each shows
// a progress bar with Cancel; the server posts the message itself, so the
// file arrives in the room like any message. During an outage uploads wait
// and go out when the server is back, as text messages do.

import { el } from './format.js';

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
// While the server cannot be reached the upload waits and tries again by
// itself (1 s, 2 s, 4 s, … 15 s), and after a 429 it waits what the server
// says; every try carries the same client_msg_id, so the file's message is
// stored once however often it is sent.
export function upload(room, file) {
  return new Promise((resolve) => {
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
        if (xhr.status === 201) { done(null); return; }
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
      const query = `name=${encodeURIComponent(file.name)}&client_msg_id=${id}`;
      xhr.open('POST', `/api/rooms/${room}/files?${query}`);
      xhr.setRequestHeader('content-type', file.type || 'application/octet-stream');
      xhr.send(file);
    }
    start();
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

// The attachment of a message: for checked images a preview that opens
// the viewer; for every file a card with name, kind and size that
// downloads it. Nothing uploaded is ever shown inline but checked images.
export function attachment(file, openImage) {
  const box = el('div', { class: 'attachment' });
  const href = `/api/files/${file.id}`;
  if (file.image) {
    box.append(el('button', { type: 'button', class: 'preview', 'aria-label': `Open image ${file.name}`, onclick: () => openImage(file) },
      el('img', { src: `${href}?inline=true`, alt: file.name, loading: 'lazy' })));
  }
  const [kind, label] = kindOf(file);
  box.append(el('div', { class: 'file-card' },
    el('span', { class: 'file-kind', 'aria-hidden': 'true', text: label }),
    el('div', { class: 'file-text' },
      el('a', { href, download: file.name, class: 'file-link', text: file.name }),
      el('span', { class: 'size', text: `${kind} · ${humanSize(file.size)}` }))));
  return box;
}

// Wires the button, drag-and-drop on the conversation, and paste.
export function wireUploads(currentRoom) {
  const send = (files) => { const room = currentRoom(); if (room) for (const f of files) upload(room, f); };
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
