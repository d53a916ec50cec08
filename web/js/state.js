// What the app knows: rooms with their events and pending sends, who is
// online, and which room is open. Views subscribe with onChange().

export class State {
  constructor() {
    this.me = null;            // {id, username, is_admin}
    this.rooms = new Map();    // id -> Room
    this.online = new Set();   // usernames
    this.users = [];           // directory entries
    this.current = null;       // open room id
    this.status = { state: 'connecting', detail: '' };
    this.listeners = [];
    this.scheduled = false;
  }

  onChange(fn) { this.listeners.push(fn); }

  changed() {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      for (const fn of this.listeners) fn(this);
    });
  }

  room(id) { return this.rooms.get(Number(id)); }

  upsertRoom(info) {
    let r = this.rooms.get(info.id);
    if (!r) {
      r = { info, events: new Map(), pending: new Map(), synced: info.last_seq, historyLoaded: false, more: true, typing: new Map() };
      this.rooms.set(info.id, r);
    } else {
      r.info = { ...r.info, ...info };
    }
    return r;
  }

  // A (re)connect: returns the `since` map for sync.
  applyWelcome(w) {
    this.me = w.user;
    this.online = new Set(w.online);
    const since = {};
    const fresh = new Set();
    for (const info of w.rooms) {
      const known = this.rooms.get(info.id);
      const r = this.upsertRoom(info);
      since[info.id] = known ? known.synced : info.last_seq;
      fresh.add(info.id);
      if (known) r.info.unread = info.unread;
    }
    for (const id of [...this.rooms.keys()]) if (!fresh.has(id)) this.rooms.delete(id);
    if (!this.current || !this.rooms.has(this.current)) {
      const general = w.rooms.find((r) => r.name === 'general') || w.rooms[0];
      this.current = general ? general.id : null;
    }
    this.changed();
    return since;
  }

  // A stored room event, live or replayed. Returns the room if it counts
  // as something new from someone else.
  addEvent(ev) {
    const r = this.room(ev.room);
    if (!r) return null;
    if (ev.seq <= r.synced && r.events.has(ev.seq)) return null;
    r.synced = Math.max(r.synced, ev.seq);
    r.info.last_seq = Math.max(r.info.last_seq, ev.seq);
    let fresh = null;
    switch (ev.type) {
      case 'message':
        r.events.set(ev.seq, ev);
        // Whoever sent a message has stopped typing.
        r.typing.delete(ev.from);
        if (ev.from !== this.me.username) fresh = r;
        break;
      case 'edited':
      case 'deleted': {
        for (const m of r.events.values()) {
          if (m.type === 'message' && m.id === ev.target) {
            if (ev.type === 'edited') { m.body = ev.body; m.edited = true; }
            else { m.body = ''; m.deleted = true; }
          }
        }
        break;
      }
      case 'room_updated':
        r.info.name = ev.name;
        r.info.topic = ev.topic;
        r.events.set(ev.seq, ev);
        break;
      default:
        r.events.set(ev.seq, ev);
    }
    this.changed();
    return fresh;
  }

  // Older events from the history API.
  addHistory(roomId, events, more) {
    const r = this.room(roomId);
    if (!r) return;
    for (const ev of events) if (!r.events.has(ev.seq)) r.events.set(ev.seq, ev);
    r.historyLoaded = true;
    r.more = more;
    this.changed();
  }

  // The id of general (or of the first room), where the app lands.
  general() {
    for (const r of this.rooms.values()) if (r.info.name === 'general' && r.info.kind === 'public') return r.info.id;
    const first = this.rooms.keys().next();
    return first.done ? null : first.value;
  }

  totalUnread() {
    let n = 0;
    for (const r of this.rooms.values()) n += r.info.unread || 0;
    return n;
  }

  setStatus(state, detail = '') {
    this.status = { state, detail };
    this.changed();
  }
}
