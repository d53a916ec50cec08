// The WebSocket: connects with the session cookie, resumes with `sync`,
// reconnects by itself with exponential backoff and jitter, and keeps an
// outbox of unacknowledged sends. Every send has a client_msg_id, and the
// server stores a retried id once, so each message lands exactly once.
//
// The outbox is a queue with one message in flight: the next goes when the
// previous is acked. A rate-limited head waits retry_after_ms and the queue
// resumes, so messages arrive in the order they were typed and a burst
// never turns into a flood.

const HEARTBEAT_MS = 20000;
const DEAD_AFTER_MS = 45000;
const MAX_BACKOFF_MS = 30000;

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
    ws.onmessage = (e) => { this.lastHeard = Date.now(); this.handle(JSON.parse(e.data)); };
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
    if (this.raw(frame)) this.inflight = id;
  }

  read(room, seq) { this.raw({ type: 'read', room, seq }); }

  typing(room) { this.raw({ type: 'typing', room }); }

  handle(msg) {
    const s = this.state;
    switch (msg.type) {
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
      case 'message': case 'member': case 'room_updated': case 'edited': case 'deleted': case 'reaction': case 'pin': {
        const fresh = s.addEvent(msg);
        if (fresh) this.hooks.onFresh(fresh, msg);
        break;
      }
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
    if (err.code === 'rate_limited') {
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
