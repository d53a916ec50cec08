// File uploads: from the Attach button, drag-and-drop or paste. Each shows
// a progress bar with Cancel; the server posts the message itself, so the
// file arrives in the room like any message.

import { el } from './format.js';

const $ = (id) => document.getElementById(id);

export function humanSize(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u += 1; }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

// Uploads `file` to `room`; resolves when done, cancelled or failed.
export function upload(room, file) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    const bar = el('progress', { max: String(file.size || 1), value: '0', 'aria-label': `Uploading ${file.name}` });
    const label = el('span', { text: `${file.name} (${humanSize(file.size)})` });
    const cancel = el('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: () => xhr.abort() });
    const row = el('li', { 'data-upload': file.name }, label, bar, cancel);
    $('uploads').append(row);
    const done = (text) => {
      if (text) { label.textContent = `${file.name}: ${text}`; cancel.remove(); setTimeout(() => row.remove(), 4000); }
      else row.remove();
      resolve();
    };
    xhr.upload.onprogress = (e) => { bar.value = e.loaded; };
    xhr.onload = () => {
      if (xhr.status === 201) { done(null); return; }
      let message = `failed (${xhr.status})`;
      try { message = JSON.parse(xhr.responseText).error.message; } catch { /* keep the status */ }
      done(message);
    };
    xhr.onerror = () => done('failed: connection lost');
    xhr.onabort = () => done('cancelled');
    xhr.open('POST', `/api/rooms/${room}/files?name=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader('content-type', file.type || 'application/octet-stream');
    xhr.send(file);
  });
}

// The attachment of a message: a preview for checked images, a download
// link with name and size for everything.
export function attachment(file) {
  const box = el('div', { class: 'attachment' });
  const href = `/api/files/${file.id}`;
  if (file.image) {
    box.append(el('a', { href, download: file.name, 'aria-label': `Download ${file.name}` },
      el('img', { src: `${href}?inline=true`, alt: file.name, loading: 'lazy' })));
  }
  box.append(el('a', { href, download: file.name, class: 'file-link', text: file.name }),
    el('span', { class: 'size', text: humanSize(file.size) }));
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
