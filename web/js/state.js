// What the app knows: rooms with their events and pending sends, people
// and who is online, and what is open. Views subscribe with onChange().

export class State {
  constructor() {
    this.me = null;            // {id, username, is_admin}
    this.rooms = new Map();    // id -> Room
    this.online = new Set();   // usernames
    this.people = new Map();   // username -> directory entry (profile)
    this.publicRooms = [];     // every public room, from GET /api/rooms
    this.current = null;       // open room id
    this.view = 'chat';        // 'chat' or 'admin'
    this.editing = null;       // {room, id} of the message being edited
    this.setup = null;         // for a new server's admin: {users, registration}
    this.status = { state: 'connecting', detail: '' };
    this.listeners = [];
    this.scheduled = false;
    this.clashes = new Map();  // name -> usernames going by it
  }

  onChange(fn) { this.listeners.push(fn); }

  // Views render at most once a frame, however many messages arrive in it
  // (a burst of hundreds costs a few renders, not hundreds of layouts). A
  // hidden page gets no frames, so it renders at once (the title's count).
  changed() {
    if (this.scheduled) return;
    this.scheduled = true;
    const run = () => {
      if (!this.scheduled) return;
      this.scheduled = false;
      for (const fn of this.listeners) fn(this);
    };
    if (document.hidden) queueMicrotask(run);
    else {
      requestAnimationFrame(run);
      // In case frames stop (the page was hidden meanwhile).
      setTimeout(run, 100);
    }
  }

  room(id) { return this.rooms.get(Number(id)); }

  upsertRoom(info) {
    let r = this.rooms.get(info.id);
    if (!r) {
      r = {
        info,
        events: new Map(),
        order: [],             // the events, by seq (rebuilt when dirty)
        dirty: false,
        pending: new Map(),
        synced: info.last_seq,
        historyLoaded: false,
        more: true,
        typing: new Map(),
        view: { end: null, size: 0 }, // which events are rendered (see messages.js)
        marker: null,          // the "new messages" line goes after this seq
        unseen: 0,             // arrived while the reader was scrolled up
      };
      this.rooms.set(info.id, r);
    } else {
      r.info = { ...r.info, ...info };
    }
    return r;
  }

  // The room's events in seq order.
  sorted(r) {
    if (r.dirty) {
      r.order = [...r.events.values()].sort((a, b) => a.seq - b.seq);
      r.dirty = false;
    }
    return r.order;
  }

  putEvent(r, ev) {
    const last = r.order[r.order.length - 1];
    r.events.set(ev.seq, ev);
    // Live events come in order: append without a sort.
    if (!r.dirty && (!last || last.seq < ev.seq)) r.order.push(ev);
    else r.dirty = true;
  }

  // The directory, or one entry of it (a profile event).
  setPeople(list) {
    this.people = new Map(list.map((u) => [u.username, u]));
    this.countNames();
    this.changed();
  }

  setPerson(entry) {
    this.people.set(entry.username, { ...this.people.get(entry.username), ...entry });
    if (!entry.display_name) delete this.people.get(entry.username).display_name;
    if (!entry.status) delete this.people.get(entry.username).status;
    if (!entry.avatar) delete this.people.get(entry.username).avatar;
    this.countNames();
    this.changed();
  }

  // Who goes by each name (lowercased): display names, and usernames.
  countNames() {
    this.clashes = new Map();
    const claim = (name, username) => {
      if (!this.clashes.has(name)) this.clashes.set(name, new Set());
      this.clashes.get(name).add(username);
    };
    for (const p of this.people.values()) {
      claim(p.username, p.username);
      if (p.display_name) claim(p.display_name.toLowerCase(), p.username);
    }
  }

  // Whether someone else also goes by `displayName`.
  nameClash(displayName) { return (this.clashes.get(displayName.toLowerCase()) || new Set()).size > 1; }

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
    if (!this.current || !this.rooms.has(this.current)) this.current = this.general();
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
        this.putEvent(r, ev);
        // Whoever sent a message has stopped typing.
        r.typing.delete(ev.from);
        if (ev.from !== this.me.username) fresh = r;
        break;
      case 'edited':
      case 'deleted': {
        for (const m of r.events.values()) {
          if (m.type === 'message' && m.id === ev.target) {
            if (ev.type === 'edited') { m.body = ev.body; m.edited = true; }
            else { m.body = ''; m.deleted = true; m.file = null; }
            m.version = (m.version || 0) + 1;
          }
        }
        break;
      }
      case 'room_updated':
        r.info.name = ev.name;
        r.info.topic = ev.topic;
        this.putEvent(r, ev);
        break;
      default:
        this.putEvent(r, ev);
    }
    this.changed();
    return fresh;
  }

  // Older events from the history API.
  addHistory(roomId, events, more) {
    const r = this.room(roomId);
    if (!r) return;
    for (const ev of events) if (!r.events.has(ev.seq)) { r.events.set(ev.seq, ev); r.dirty = true; }
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
