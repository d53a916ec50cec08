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
    this.thread = null;        // the open thread panel: {room, root}
    this.followed = new Map(); // root id -> {room, unread}: threads you follow
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
        byId: new Map(),       // message id -> message event
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
      // `archived` is left out when false: a room opened again says so.
      r.info = { ...r.info, ...info, archived: Boolean(info.archived) };
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
    if (ev.type === 'message') r.byId.set(ev.id, ev);
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

  // Days a room keeps its messages (its own policy, else the server's);
  // null: forever.
  retentionDays(r) {
    const own = r.info.retention_days;
    if (own !== undefined && own !== null) return own === 0 ? null : own;
    return (this.limits && this.limits.retention_days) || null;
  }

  // A (re)connect: returns the `since` map for sync.
  applyWelcome(w) {
    this.me = w.user;
    this.limits = w.limits || {};
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
    // Removed by the room's retention policy: only its place counts.
    if (ev.expired) return null;
    switch (ev.type) {
      case 'message':
        this.putEvent(r, ev);
        // Whoever sent a message has stopped typing.
        r.typing.delete(ev.from);
        if (ev.thread) this.countReply(r, ev);
        if (ev.from !== this.me.username) fresh = r;
        break;
      case 'edited':
      case 'deleted': {
        const m = r.byId.get(ev.target);
        if (m) {
          if (ev.type === 'edited') { m.body = ev.body; m.edited = true; }
          else {
            m.body = ''; m.deleted = true; m.file = null; m.reactions = []; m.pinned = false;
            const root = m.thread && r.byId.get(m.thread);
            if (root && root.replies) { root.replies.count = Math.max(0, root.replies.count - 1); root.version = (root.version || 0) + 1; }
          }
          m.version = (m.version || 0) + 1;
        }
        break;
      }
      case 'reaction': {
        // Set semantics: applying an event twice changes nothing.
        const m = r.byId.get(ev.target);
        if (m) {
          const list = m.reactions || (m.reactions = []);
          let entry = list.find((x) => x.emoji === ev.emoji);
          if (ev.add) {
            if (!entry) { entry = { emoji: ev.emoji, users: [] }; list.push(entry); }
            if (!entry.users.includes(ev.by)) entry.users.push(ev.by);
          } else if (entry) {
            entry.users = entry.users.filter((u) => u !== ev.by);
            if (!entry.users.length) list.splice(list.indexOf(entry), 1);
          }
          m.version = (m.version || 0) + 1;
        }
        break;
      }
      case 'pin': {
        const m = r.byId.get(ev.target);
        if (m) { m.pinned = ev.pinned; m.version = (m.version || 0) + 1; }
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

  // A live thread reply: its root's summary (count, last time, who).
  countReply(r, ev) {
    const root = r.byId.get(ev.thread);
    if (!root) return;
    const s = root.replies || { count: 0, last_ts: ev.ts, users: [] };
    root.replies = { count: s.count + 1, last_ts: ev.ts, users: [ev.from, ...s.users.filter((u) => u !== ev.from)].slice(0, 5) };
    root.version = (root.version || 0) + 1;
  }

  // Whether a message shows in the room's list (thread-only replies do not).
  static inRoom(ev) { return !ev.thread || ev.also_room; }

  // Older events from the history API. (Reactions and pins in it are
  // already counted on their messages.)
  addHistory(roomId, events, more) {
    const r = this.room(roomId);
    if (!r) return;
    for (const ev of events) {
      if (r.events.has(ev.seq)) continue;
      r.events.set(ev.seq, ev);
      if (ev.type === 'message') r.byId.set(ev.id, ev);
      r.dirty = true;
    }
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

  // The title badge: what each room's notification level lets count
  // (muted rooms and level "none" count nothing, "mentions" only mentions),
  // plus unread replies in followed threads.
  totalUnread() {
    let n = 0;
    for (const r of this.rooms.values()) {
      if (r.info.muted || r.info.notify === 'none') continue;
      n += r.info.notify === 'mentions' ? (r.info.mentions || 0) : (r.info.unread || 0);
    }
    for (const t of this.followed.values()) {
      const r = this.room(t.room);
      if (r && !r.info.muted && r.info.notify !== 'none') n += t.unread || 0;
    }
    return n;
  }

  // Whether a message mentions the reader (by name, or the whole room).
  mentionsMe(ev) {
    return Boolean(this.me && ev.from !== this.me.username
      && ((ev.mentions || []).includes(this.me.username) || ev.mentions_room));
  }

  setStatus(state, detail = '') {
    this.status = { state, detail };
    this.changed();
  }
}
