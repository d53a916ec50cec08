//! Embedded migrations, applied in order; `PRAGMA user_version` records how
//! many have run.

use super::StoreError;
use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: users, sessions, rooms, membership, the per-room event stream.
    r#"
    CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        username      TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        is_admin      INTEGER NOT NULL DEFAULT 0,
        disabled      INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL,
        last_seen     INTEGER
    );
    CREATE TABLE sessions (
        id          INTEGER PRIMARY KEY,
        user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        token_hash  BLOB NOT NULL UNIQUE,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL
    );
    CREATE INDEX sessions_user ON sessions(user_id);
    CREATE TABLE rooms (
        id          INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL CHECK (kind IN ('public', 'private', 'dm')),
        name        TEXT NOT NULL,
        topic       TEXT,
        created_by  INTEGER REFERENCES users(id),
        created_at  INTEGER NOT NULL,
        last_seq    INTEGER NOT NULL DEFAULT 0
    );
    CREATE UNIQUE INDEX rooms_name ON rooms(name) WHERE kind != 'dm';
    CREATE TABLE members (
        room_id   INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        joined_at INTEGER NOT NULL,
        read_seq  INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (room_id, user_id)
    ) WITHOUT ROWID;
    CREATE INDEX members_user ON members(user_id);
    CREATE TABLE events (
        id            INTEGER PRIMARY KEY,
        room_id       INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        seq           INTEGER NOT NULL,
        ts            INTEGER NOT NULL,
        user_id       INTEGER NOT NULL REFERENCES users(id),
        kind          TEXT NOT NULL DEFAULT 'message',
        body          TEXT,
        client_msg_id TEXT,
        UNIQUE (room_id, seq)
    );
    CREATE UNIQUE INDEX events_client_msg ON events(user_id, client_msg_id)
        WHERE client_msg_id IS NOT NULL;
    CREATE TABLE invites (
        code_hash   BLOB PRIMARY KEY,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        used_by     INTEGER REFERENCES users(id)
    );
    INSERT INTO rooms (kind, name, topic, created_at) VALUES ('public', 'general', 'Everyone', 0);
    "#,
    // 2: room events beyond messages (membership, updates, edits,
    // deletions), edit/delete state on messages, one DM room per pair.
    r#"
    ALTER TABLE events ADD COLUMN subject_id INTEGER REFERENCES users(id);
    ALTER TABLE events ADD COLUMN target_id INTEGER;
    ALTER TABLE events ADD COLUMN data TEXT;
    ALTER TABLE events ADD COLUMN edited_at INTEGER;
    ALTER TABLE events ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rooms ADD COLUMN dm_key TEXT;
    CREATE UNIQUE INDEX rooms_dm_key ON rooms(dm_key) WHERE dm_key IS NOT NULL;
    "#,
    // 3: files, stored by SHA-256 on disk; a message may carry one.
    r#"
    CREATE TABLE files (
        id          INTEGER PRIMARY KEY,
        sha256      TEXT NOT NULL,
        size        INTEGER NOT NULL,
        name        TEXT NOT NULL,
        media_type  TEXT NOT NULL,
        image       INTEGER NOT NULL DEFAULT 0,
        room_id     INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        uploader_id INTEGER NOT NULL REFERENCES users(id),
        created_at  INTEGER NOT NULL,
        removed     INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX files_sha256 ON files(sha256);
    CREATE INDEX files_uploader ON files(uploader_id, created_at);
    ALTER TABLE events ADD COLUMN file_id INTEGER REFERENCES files(id);
    "#,
    // 4: profiles (display name, status, a small picture kept in the
    // database so every node of an installation can serve it), who made
    // and who revoked an invite, and settings admins change at run time.
    r#"
    ALTER TABLE users ADD COLUMN display_name TEXT;
    ALTER TABLE users ADD COLUMN status_text TEXT;
    ALTER TABLE users ADD COLUMN avatar BLOB;
    ALTER TABLE users ADD COLUMN avatar_type TEXT;
    ALTER TABLE users ADD COLUMN avatar_version INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE invites ADD COLUMN created_by INTEGER REFERENCES users(id);
    ALTER TABLE invites ADD COLUMN revoked_at INTEGER;
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 5: full-text search over messages: an FTS5 index whose content is the
    // events table, kept by triggers, so a message, its edit and its
    // deletion change the index in their own transaction. Only live
    // messages are indexed: an edit replaces the text, a deletion removes it.
    r#"
    CREATE VIRTUAL TABLE events_fts USING fts5(
        body, content = 'events', content_rowid = 'id',
        tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER events_fts_insert AFTER INSERT ON events
    WHEN new.kind = 'message' AND new.deleted = 0 AND new.body IS NOT NULL AND new.body != ''
    BEGIN
        INSERT INTO events_fts (rowid, body) VALUES (new.id, new.body);
    END;
    CREATE TRIGGER events_fts_update AFTER UPDATE OF body, deleted ON events
    WHEN old.kind = 'message'
    BEGIN
        INSERT INTO events_fts (events_fts, rowid, body)
        SELECT 'delete', old.id, old.body
        WHERE old.deleted = 0 AND old.body IS NOT NULL AND old.body != '';
        INSERT INTO events_fts (rowid, body)
        SELECT new.id, new.body
        WHERE new.deleted = 0 AND new.body IS NOT NULL AND new.body != '';
    END;
    CREATE TRIGGER events_fts_delete AFTER DELETE ON events
    WHEN old.kind = 'message' AND old.deleted = 0 AND old.body IS NOT NULL AND old.body != ''
    BEGIN
        INSERT INTO events_fts (events_fts, rowid, body) VALUES ('delete', old.id, old.body);
    END;
    INSERT INTO events_fts (rowid, body)
    SELECT id, body FROM events
    WHERE kind = 'message' AND deleted = 0 AND body IS NOT NULL AND body != '';
    "#,
    // 6: collaboration. A thread reply names its root (`thread_id`) and
    // says whether it also shows in the room (`in_room`; room unread counts
    // only those); a root keeps its reply count and last reply time. A
    // message's `data` holds who it mentions. Reactions, mentions (for
    // counts and the Mentions view), thread follows and per-room
    // notification settings are tables of their own.
    r#"
    ALTER TABLE events ADD COLUMN thread_id INTEGER;
    ALTER TABLE events ADD COLUMN in_room INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE events ADD COLUMN reply_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE events ADD COLUMN last_reply_at INTEGER;
    ALTER TABLE events ADD COLUMN pinned_at INTEGER;
    CREATE INDEX events_thread ON events(thread_id, id) WHERE thread_id IS NOT NULL;
    CREATE INDEX events_pinned ON events(room_id, pinned_at) WHERE pinned_at IS NOT NULL;
    CREATE TABLE reactions (
        message_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
        emoji      TEXT NOT NULL,
        user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (message_id, emoji, user_id)
    ) WITHOUT ROWID;
    CREATE TABLE mentions (
        user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        room_id  INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        seq      INTEGER NOT NULL,
        event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
        PRIMARY KEY (user_id, room_id, seq)
    ) WITHOUT ROWID;
    CREATE INDEX mentions_event ON mentions(event_id);
    CREATE TABLE thread_follows (
        user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        root_id  INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
        room_id  INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        following INTEGER NOT NULL DEFAULT 1,
        read_seq INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (user_id, root_id)
    ) WITHOUT ROWID;
    ALTER TABLE members ADD COLUMN notify TEXT NOT NULL DEFAULT 'all'
        CHECK (notify IN ('all', 'mentions', 'none'));
    ALTER TABLE members ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;
    "#,
    // 7: end-to-end encryption. A device is a session that published keys
    // (it goes with its session); its one-time keys are handed out once;
    // to-device messages wait per device until acked, numbered per device
    // by a counter on its row (gapless, in commit order); a room key share
    // records which devices got which Megolm session, so a send can be
    // refused until every current device has its key. Encrypted rooms
    // keep messages as ciphertext in `events.encrypted` (never in `body`,
    // so nothing reaches the search index). A user's key backup is room
    // keys sealed with a recovery key the server never sees.
    r#"
    ALTER TABLE rooms ADD COLUMN encrypted INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE events ADD COLUMN encrypted TEXT;
    CREATE TABLE devices (
        id          INTEGER PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
        user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        curve25519  TEXT NOT NULL UNIQUE,
        ed25519     TEXT NOT NULL UNIQUE,
        signature   TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        to_device_seq INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX devices_user ON devices(user_id);
    CREATE TABLE one_time_keys (
        device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        fallback  INTEGER NOT NULL DEFAULT 0,
        key_id    TEXT NOT NULL,
        key       TEXT NOT NULL,
        signature TEXT NOT NULL,
        PRIMARY KEY (device_id, fallback, key_id)
    ) WITHOUT ROWID;
    CREATE TABLE to_device (
        device_id     INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        seq           INTEGER NOT NULL,
        sender_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        sender_device INTEGER NOT NULL,
        body          TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        PRIMARY KEY (device_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE room_key_shares (
        room_id       INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        session       TEXT NOT NULL,
        sender_device INTEGER NOT NULL,
        device_id     INTEGER NOT NULL,
        PRIMARY KEY (room_id, session, device_id)
    ) WITHOUT ROWID;
    CREATE TABLE key_backup_info (
        user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        salt       TEXT,
        check_text TEXT NOT NULL
    );
    CREATE TABLE key_backup (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        room_id INTEGER NOT NULL,
        session TEXT NOT NULL,
        data    TEXT NOT NULL,
        PRIMARY KEY (user_id, room_id, session)
    ) WITHOUT ROWID;
    "#,
    // 8: an encrypted conversation's file is uploaded first, then attached
    // to the (encrypted) message that names it: find a file's message
    // quickly, to tell attached files from unattached ones.
    r#"
    CREATE INDEX events_file ON events(file_id) WHERE file_id IS NOT NULL;
    "#,
    // 9: password reset links an admin makes: stored as a SHA-256 hash,
    // single use, with an expiry; a newer link for the user replaces it.
    r#"
    CREATE TABLE password_resets (
        token_hash BLOB PRIMARY KEY,
        user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_by INTEGER REFERENCES users(id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at    INTEGER
    );
    CREATE INDEX password_resets_user ON password_resets(user_id);
    "#,
    // 10: an archived room is read-only (kept, readable, nothing added).
    r#"
    ALTER TABLE rooms ADD COLUMN archived_at INTEGER;
    "#,
    // 11: integrations. An API token is a session with a name and scopes
    // (a login has neither); bot accounts; webhooks of a room.
    r#"
    ALTER TABLE sessions ADD COLUMN name TEXT;
    ALTER TABLE sessions ADD COLUMN scopes TEXT;
    ALTER TABLE sessions ADD COLUMN last_used_at INTEGER;
    ALTER TABLE users ADD COLUMN is_bot INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE webhooks (
        id         INTEGER PRIMARY KEY,
        room_id    INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        owner_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        kind       TEXT NOT NULL CHECK (kind IN ('incoming', 'outgoing')),
        name       TEXT NOT NULL,
        token_hash BLOB UNIQUE,
        url        TEXT,
        secret     TEXT,
        triggers   TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX webhooks_room ON webhooks(room_id);
    "#,
    // 12: retention. A room's own policy (NULL: the server's; 0: keep
    // forever), and how far its events have expired (a prefix by seq).
    r#"
    ALTER TABLE rooms ADD COLUMN retention_days INTEGER;
    ALTER TABLE rooms ADD COLUMN expired_seq INTEGER NOT NULL DEFAULT 0;
    "#,
    // 13: the search index follows the events table instead of being
    // written by each message's commit (see `search_index`): no insert
    // trigger; `search_progress.upto` is the newest event id indexed, and
    // the update and delete triggers act only on messages up to it.
    r#"
    DROP TRIGGER events_fts_insert;
    CREATE TABLE search_progress (upto INTEGER NOT NULL);
    INSERT INTO search_progress (upto) SELECT COALESCE(max(id), 0) FROM events;
    DROP TRIGGER events_fts_update;
    CREATE TRIGGER events_fts_update AFTER UPDATE OF body, deleted ON events
    WHEN old.kind = 'message' AND old.id <= (SELECT upto FROM search_progress)
    BEGIN
        INSERT INTO events_fts (events_fts, rowid, body)
        SELECT 'delete', old.id, old.body
        WHERE old.deleted = 0 AND old.body IS NOT NULL AND old.body != '';
        INSERT INTO events_fts (rowid, body)
        SELECT new.id, new.body
        WHERE new.deleted = 0 AND new.body IS NOT NULL AND new.body != '';
    END;
    DROP TRIGGER events_fts_delete;
    CREATE TRIGGER events_fts_delete AFTER DELETE ON events
    WHEN old.kind = 'message' AND old.deleted = 0 AND old.body IS NOT NULL AND old.body != ''
        AND old.id <= (SELECT upto FROM search_progress)
    BEGIN
        INSERT INTO events_fts (events_fts, rowid, body) VALUES ('delete', old.id, old.body);
    END;
    "#,
];

/// Brings the schema up to date.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(StoreError::TooNew(current));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied database migration");
    }
    Ok(())
}
