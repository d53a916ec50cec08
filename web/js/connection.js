// The WebSocket: connects with the session cookie, resumes with `sync`,
// reconnects by itself with exponential backoff and jitter, and keeps an
// outbox of unacknowledged sends. Every send has a client_msg_id, and the
// server stores a retried id once, so each message lands exactly once.
//
// The outbox is a queue with one message in flight: the next goes when the
// previous is acked. A rate-limited head waits retry_after_ms and the queue
// resumes, so messages arrive in the order they were typed and a burst
// never turns into a flood.
//
// With end-to-end encryption (e2e.js), frames are handled one after the
// other even when one needs the network (a to-device key from a new
// sender); a send to an encrypted room shares the key and goes as
// ciphertext (again on keys_outdated); an encrypted event whose key has
// not come waits, with the events after it, up to KEY_WAIT_MS.

import { mentioned } from './e2e.js';

const HEARTBEAT_MS = 20000;
const DEAD_AFTER_MS = 45000;
const MAX_BACKOFF_MS = 30000;
const KEY_WAIT_MS = 5000;
const KEY_RETRIES = 3;

export class Connection {
  constructor(state, hooks) {
    this.state = state;
    this.hooks = hooks;          // {onFresh, onLoggedOut, onPresence, onSynced, onRoomGone, onOutbox, onThread}
    this.ws = null;
    this.live = false;
    this.attempt = 0;
    this.outbox = new Map();     // client_msg_id -> {room, body, thread, also_room}, in typing order
    this.inflight = null;        // the client_msg_id sent and not yet answered
    this.pausedUntil = 0;        // rate limited until then
    this.resume = null;
    this.lastHeard = 0;
    this.timer = null;
    this.countdown = null;
    this.stopped = false;
    this.e2e = null;             // a promise of this browser's E2E device (or null)
    this.chain = Promise.resolve();
    this.held = [];              // encrypted events waiting for their key, and those after them
    this.heldTimer = null;
  }

  start() {
    this.open();
    setInterval(() => this.heartbeat(), HEARTBEAT_MS / 2);
  }

  stop() {
    this.stopped = true;
    if (this.ws) this.ws.close(1000);
  }

  open() {
    clearTimeout(this.timer);
    clearInterval(this.countdown);
    this.state.setStatus('connecting');
    const ws = new WebSocket(`wss://${location.host}/ws`);
    this.ws = ws;
    ws.onmessage = (e) => {
      this.lastHeard = Date.now();
      const msg = JSON.parse(e.data);
      this.chain = this.chain.then(() => this.handle(msg, ws)).catch((err) => console.error('frame', msg.type, err));
    };
    ws.onclose = (e) => this.closed(ws, e);
  }

  closed(ws, e) {
    if (ws !== this.ws) return;
    this.live = false;
    this.inflight = null;
    this.ws = null;
    // Nothing is known about others until the next welcome.
    this.state.online.clear();
    for (const r of this.state.rooms.values()) r.typing.clear();
    this.markQueued();
    if (this.stopped) return;
    if (e.code === 4001) { this.hooks.onLoggedOut(); return; }
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt);
    const delay = Math.round(base / 2 + Math.random() * base / 2);
    this.attempt += 1;
    const until = Date.now() + delay;
    const tick = () => {
      const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      this.state.setStatus(navigator.onLine === false ? 'offline' : 'reconnecting', `in ${left}s`);
    };
    tick();
    this.countdown = setInterval(tick, 1000);
    this.timer = setTimeout(() => this.open(), delay);
  }

  // Drops a connection that has gone silent; answers nothing to the server's
  // pings (browsers do that themselves) but keeps its own heartbeat.
  heartbeat() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastHeard > DEAD_AFTER_MS) { this.ws.close(); return; }
    this.raw({ type: 'ping', nonce: String(Date.now()) });
  }

  raw(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  // Queues a message; `id` is given when a message kept on this device
  // (sent while offline, then reloaded) is queued again.
  // `thread` (a root message id) and `alsoRoom` make it a thread reply.
  send(room, body, id = crypto.randomUUID(), thread = null, alsoRoom = false) {
    const r = this.state.room(room);
    if (!r) return null;
    r.pending.set(id, { body, thread, also_room: alsoRoom, status: this.live ? 'sending' : 'queued', ts: Date.now() });
    this.outbox.set(id, { room, body, thread, also_room: alsoRoom });
    this.saved();
    this.state.changed();
    this.pump();
    return id;
  }

  // Queues the encrypted message that carries `fileId`, uploaded to
  // encrypted `room` as ciphertext sealed with `secrets`.
  sendFile(room, fileId, secrets, caption = '', id = crypto.randomUUID()) {
    const r = this.state.room(room);
    if (!r) return null;
    const file = { id: fileId, secrets };
    r.pending.set(id, { body: caption || secrets.name, file, status: this.live ? 'sending' : 'queued', ts: Date.now() });
    this.outbox.set(id, { room, body: caption, file });
    this.saved();
    this.state.changed();
    this.pump();
    return id;
  }

  // What waits in the outbox is kept on this device (see offline.js).
  saved() {
    if (this.hooks.onOutbox) this.hooks.onOutbox([...this.outbox].map(([id, m]) => ({ id, ...m })));
  }

  // Without a connection, every unsent message waits for it.
  markQueued() {
    for (const [id, item] of this.outbox) {
      const p = this.state.room(item.room)?.pending.get(id);
      if (p && p.status !== 'failed') p.status = 'queued';
    }
    this.state.changed();
  }

  // Sends the head of the outbox if nothing is in flight.
  pump() {
    if (!this.live || this.inflight || this.outbox.size === 0) return;
    const wait = this.pausedUntil - Date.now();
    if (wait > 0) {
      clearTimeout(this.resume);
      this.resume = setTimeout(() => this.pump(), wait);
      return;
    }
    const [id, item] = this.outbox.entries().next().value;
    const p = this.state.room(item.room)?.pending.get(id);
    if (p && p.status !== 'sending') { p.status = 'sending'; this.state.changed(); }
    for (const [other, o] of this.outbox) {
      const q = this.state.room(o.room)?.pending.get(other);
      if (other !== id && q && q.status === 'queued') { q.status = 'sending'; this.state.changed(); }
    }
    const frame = { type: 'send', room: item.room, client_msg_id: id, body: item.body };
    if (item.thread) { frame.thread = item.thread; frame.also_room = Boolean(item.also_room); }
    if (item.file) frame.file = item.file.id;
    if (this.state.room(item.room)?.info.encrypted) { this.sendSealed(id, item, frame); return; }
    if (this.raw(frame)) this.inflight = id;
  }

  // The send of a message to an encrypted room: its key shared, then the
  // ciphertext (the text never leaves this browser).
  sendSealed(id, item, frame) {
    this.inflight = id;
    const ws = this.ws;
    (async () => {
      if (!this.e2e) throw new Error('this browser has no encryption keys');
      const e2e = await this.e2e;
      if (!e2e) throw new Error('this browser has no encryption keys');
      const enc = await e2e.encrypt(item.room, item.body, item.file ? item.file.secrets : null);
      this.warn(e2e);
      if (this.inflight !== id || this.ws !== ws) return;
      frame.body = '';
      frame.encrypted = enc;
      const names = mentioned(item.body);
      if (names.length) frame.mentions = names;
      if (!this.raw(frame)) this.inflight = null;
    })().catch((err) => {
      if (this.inflight !== id) return;
      this.failed({ client_msg_id: id, code: 'bad_request', message: `Cannot encrypt: ${err.message}` });
    });
  }

  warn(e2e) {
    while (e2e.warnings.length) {
      const w = e2e.warnings.shift();
      if (this.hooks.onWarning) this.hooks.onWarning(w); else console.warn(w);
    }
  }

  // A room event, opened if encrypted; held while its key (or an earlier
  // held event's) is missing.
  async deliver(msg) {
    if (msg.encrypted && this.e2e) {
      const e2e = await this.e2e;
      if (e2e && (this.held.length || !e2e.open(msg))) {
        this.held.push(msg);
        if (!this.heldTimer) this.heldTimer = setTimeout(() => this.release(true), KEY_WAIT_MS);
        return;
      }
    } else if (this.held.length) {
      this.held.push(msg);
      return;
    }
    this.apply(msg);
  }

  apply(msg) {
    const fresh = this.state.addEvent(msg);
    if (fresh) this.hooks.onFresh(fresh, msg);
  }

  // Lets held events go whose keys are here now; with `giveUp`, the head
  // first, marked as undecryptable.
  async release(giveUp = false) {
    clearTimeout(this.heldTimer);
    this.heldTimer = null;
    if (!this.held.length || !this.e2e) return;
    const e2e = await this.e2e;
    if (giveUp) { const head = this.held.shift(); e2e.giveUp(head); this.apply(head); }
    while (this.held.length && e2e.open(this.held[0])) this.apply(this.held.shift());
    if (this.held.length) this.heldTimer = setTimeout(() => this.release(true), KEY_WAIT_MS);
  }

  read(room, seq) { this.raw({ type: 'read', room, seq }); }

  typing(room) { this.raw({ type: 'typing', room }); }

  async handle(msg, ws) {
    const s = this.state;
    switch (msg.type) {
      case 'to_device': {
        const e2e = this.e2e && await this.e2e;
        if (e2e) { await e2e.receive(msg); this.warn(e2e); }
        if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'to_device_ack', upto: msg.id }));
        await this.release();
        break;
      }
      case 'welcome': {
        const since = s.applyWelcome(msg);
        this.raw({ type: 'sync', since });
        break;
      }
      case 'synced':
        this.live = true;
        this.attempt = 0;
        s.setStatus('connected');
        // Everything not acked yet, in the order it was typed.
        this.inflight = null;
        this.pump();
        this.hooks.onSynced();
        break;
      case 'ack': {
        this.outbox.delete(msg.client_msg_id);
        this.saved();
        if (this.inflight === msg.client_msg_id) this.inflight = null;
        const r = s.room(msg.room);
        if (r) {
          const p = r.pending.get(msg.client_msg_id);
          r.pending.delete(msg.client_msg_id);
          if (p && !r.events.has(msg.seq)) {
            const ev = { type: 'message', id: msg.id, room: msg.room, seq: msg.seq, ts: msg.ts, from: s.me.username, body: p.body };
            if (p.thread) { ev.thread = p.thread; ev.also_room = p.also_room; }
            s.addEvent(ev);
          }
        }
        s.changed();
        this.pump();
        break;
      }
      case 'error':
        this.failed(msg);
        break;
      case 'message': case 'member': case 'room_updated': case 'edited': case 'deleted': case 'reaction': case 'pin':
        await this.deliver(msg);
        break;
      case 'room_added':
        s.upsertRoom(msg.room);
        s.changed();
        break;
      case 'room_removed':
        s.rooms.delete(msg.room);
        if (s.current === msg.room) {
          s.current = null;
          if (this.hooks.onRoomGone) this.hooks.onRoomGone();
        }
        s.changed();
        break;
      case 'read': {
        const r = s.room(msg.room);
        if (r) {
          r.info.read_seq = msg.seq;
          if (msg.seq >= r.info.last_seq) { r.info.unread = 0; r.info.mentions = 0; }
          s.changed();
        }
        break;
      }
      case 'profile':
        s.setPerson(msg.user);
        break;
      case 'thread':
        if (this.hooks.onThread) this.hooks.onThread(msg);
        break;
      case 'notifications': {
        const r = s.room(msg.room);
        if (r) { r.info.notify = msg.level; r.info.muted = msg.muted; s.changed(); }
        break;
      }
      case 'presence':
        if (msg.online) s.online.add(msg.user); else s.online.delete(msg.user);
        this.hooks.onPresence();
        s.changed();
        break;
      case 'typing': {
        const r = s.room(msg.room);
        if (r) { r.typing.set(msg.user, Date.now() + 4000); s.changed(); setTimeout(() => s.changed(), 4100); }
        break;
      }
      default:
        break;
    }
  }

  // An error answering a send: rate limits are waited out and resent; other
  // failures are shown on the message.
  failed(err) {
    const id = err.client_msg_id;
    const item = id && this.outbox.get(id);
    if (!item) { console.warn('server error', err.code, err.message); return; }
    const r = this.state.room(item.room);
    const p = r && r.pending.get(id);
    if (this.inflight === id) this.inflight = null;
    if (err.code === 'keys_outdated' && (item.keyRetries || 0) < KEY_RETRIES) {
      // Someone joined or left as it went: share the key again and resend.
      item.keyRetries = (item.keyRetries || 0) + 1;
    } else if (err.code === 'rate_limited') {
      const wait = err.retry_after_ms || 1000;
      this.pausedUntil = Date.now() + wait;
      if (p) { p.status = 'waiting'; p.until = this.pausedUntil; }
    } else {
      this.outbox.delete(id);
      this.saved();
      if (p) { p.status = 'failed'; p.error = err.message; }
    }
    this.state.changed();
    this.pump();
  }
}
