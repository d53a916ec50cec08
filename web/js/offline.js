// What this device keeps so the app opens without the server: who you are,
// your rooms, and the messages waiting to be sent (the outbox). Kept in
// this browser's storage, per user, and removed at logout.

const prefix = (userId) => `securechat.u${userId}.`;

function write(key, value) {
  try { localStorage.setItem(key, JSON.stringify(value)); } catch { /* full or off */ }
}

function read(key) {
  try { return JSON.parse(localStorage.getItem(key) || 'null'); } catch { return null; }
}

// The last signed-in user and their rooms.
export function saveSession(me, rooms) {
  write('securechat.last', { me });
  write(`${prefix(me.id)}rooms`, rooms);
}

export function loadSession() {
  const last = read('securechat.last');
  if (!last || !last.me) return null;
  return { me: last.me, rooms: read(`${prefix(last.me.id)}rooms`) || [] };
}

// [{id, room, body}] in the order typed.
export function saveOutbox(userId, items) {
  if (items.length) write(`${prefix(userId)}outbox`, items);
  else { try { localStorage.removeItem(`${prefix(userId)}outbox`); } catch { /* off */ } }
}

export function loadOutbox(userId) {
  return read(`${prefix(userId)}outbox`) || [];
}

// Drafts per room.
export const draftKey = (userId, room) => `${prefix(userId)}draft.${room}`;

// Everything of this user's, and the pointer to them.
export function forget(userId) {
  try {
    for (const key of Object.keys(localStorage)) {
      if (key.startsWith(prefix(userId)) || key === 'securechat.last') localStorage.removeItem(key);
    }
  } catch { /* storage off */ }
}
