//! Property tests: every wire message survives serialize → deserialize.

use proptest::prelude::*;
use securechat_proto::ws::{
    Ack, Deleted, Edited, ErrorMsg, Limits, MemberAction, MemberEvent, MessageEvent, RoomInfo,
    RoomKind, RoomUpdated, UserInfo, Welcome,
};
use securechat_proto::{ClientMsg, ErrorCode, MessageId, RoomId, ServerMsg, Timestamp, UserId};
use std::collections::BTreeMap;

fn any_text() -> impl Strategy<Value = String> {
    // Any Unicode, including quotes, backslashes, controls and emoji.
    any::<String>()
}

fn any_ts() -> impl Strategy<Value = Timestamp> {
    // Years 1970..9999.
    (0i64..253_402_300_799_999).prop_map(Timestamp)
}

fn any_room() -> impl Strategy<Value = RoomId> {
    any::<i64>().prop_map(RoomId)
}

fn any_code() -> impl Strategy<Value = ErrorCode> {
    prop::sample::select(ErrorCode::ALL.to_vec())
}

fn any_kind() -> impl Strategy<Value = RoomKind> {
    prop::sample::select(vec![RoomKind::Public, RoomKind::Private, RoomKind::Dm])
}

fn any_client_msg() -> impl Strategy<Value = ClientMsg> {
    prop_oneof![
        (
            any_room(),
            any_text(),
            any_text(),
            proptest::option::of(any::<i64>()),
            any::<bool>(),
            proptest::option::of((any::<i64>(), any_text(), any_text())),
        )
            .prop_map(|(room, client_msg_id, body, thread, also_room, enc)| {
                ClientMsg::Send {
                    room,
                    client_msg_id,
                    body,
                    encrypted: enc.map(|(d, session, ciphertext)| {
                        securechat_proto::e2e::Encrypted {
                            device: securechat_proto::DeviceId(d),
                            session,
                            ciphertext,
                        }
                    }),
                    file: thread.map(securechat_proto::FileId),
                    mentions: Vec::new(),
                    thread: thread.map(MessageId),
                    also_room,
                }
            }),
        prop::collection::btree_map(any_room(), any::<u64>(), 0..8)
            .prop_map(|since: BTreeMap<_, _>| ClientMsg::Sync { since }),
        any_text().prop_map(|nonce| ClientMsg::Ping { nonce }),
        (any_room(), any::<u64>()).prop_map(|(room, seq)| ClientMsg::Read { room, seq }),
        any_room().prop_map(|room| ClientMsg::Typing { room }),
        any::<u64>().prop_map(|upto| ClientMsg::ToDeviceAck { upto }),
    ]
}

fn any_room_info() -> impl Strategy<Value = RoomInfo> {
    (
        any_room(),
        any_kind(),
        any_text(),
        proptest::option::of(any_text()),
        (any::<u64>(), any::<u64>(), any::<u64>()),
        (any::<u64>(), any::<bool>(), any::<bool>(), any::<bool>()),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(
            |(
                id,
                kind,
                name,
                topic,
                (last_seq, unread, read_seq),
                (mentions, muted, encrypted, archived),
                retention_days,
            )| RoomInfo {
                id,
                kind,
                name,
                topic,
                last_seq,
                unread,
                read_seq,
                mentions,
                muted,
                encrypted,
                archived,
                retention_days,
                notify: Default::default(),
            },
        )
}

fn head() -> impl Strategy<Value = (i64, RoomId, u64, Timestamp)> {
    (any::<i64>(), any_room(), any::<u64>(), any_ts())
}

/// Stored room events other than messages.
fn any_room_event() -> impl Strategy<Value = ServerMsg> {
    let action = prop::sample::select(vec![
        MemberAction::Join,
        MemberAction::Leave,
        MemberAction::Invite,
        MemberAction::Remove,
    ]);
    prop_oneof![
        (head(), any_text(), action, any_text()).prop_map(
            |((id, room, seq, ts), user, action, by)| ServerMsg::Member(MemberEvent {
                id: MessageId(id),
                room,
                seq,
                ts,
                user,
                action,
                by
            })
        ),
        (
            head(),
            any_text(),
            any_text(),
            proptest::option::of(any_text())
        )
            .prop_map(
                |((id, room, seq, ts), by, name, topic)| ServerMsg::RoomUpdated(RoomUpdated {
                    id: MessageId(id),
                    room,
                    seq,
                    ts,
                    by,
                    name,
                    topic
                })
            ),
        (head(), any::<i64>(), any_text(), any_text()).prop_map(
            |((id, room, seq, ts), target, body, by)| ServerMsg::Edited(Edited {
                id: MessageId(id),
                room,
                seq,
                ts,
                target: MessageId(target),
                body,
                encrypted: None,
                by
            })
        ),
        (head(), any::<i64>(), any_text()).prop_map(|((id, room, seq, ts), target, by)| {
            ServerMsg::Deleted(Deleted {
                id: MessageId(id),
                room,
                seq,
                ts,
                target: MessageId(target),
                by,
            })
        }),
        any_room_info().prop_map(|room| ServerMsg::RoomAdded { room }),
        any_room().prop_map(|room| ServerMsg::RoomRemoved { room }),
        (any_room(), any::<u64>()).prop_map(|(room, seq)| ServerMsg::Read { room, seq }),
        (any_room(), any_text()).prop_map(|(room, user)| ServerMsg::Typing { room, user }),
    ]
}

fn any_server_msg() -> impl Strategy<Value = ServerMsg> {
    let user = (any::<i64>(), any_text(), any::<bool>(), any::<bool>()).prop_map(
        |(id, username, is_admin, is_bot)| UserInfo {
            id: UserId(id),
            username,
            is_admin,
            is_bot,
        },
    );
    let room = any_room_info();
    let welcome = (
        any::<u32>(),
        any_text(),
        user,
        prop::collection::vec(room, 0..4),
        prop::collection::vec(any_text(), 0..4),
        (
            any::<usize>(),
            any::<usize>(),
            0.0f64..1e6,
            any::<u32>(),
            any::<u64>(),
        ),
    )
        .prop_map(
            |(protocol_version, server_version, user, rooms, online, l)| {
                ServerMsg::Welcome(Welcome {
                    protocol_version,
                    server_version,
                    user,
                    device: securechat_proto::DeviceId(7),
                    rooms,
                    online,
                    limits: Limits {
                        max_message_bytes: l.0,
                        max_frame_bytes: l.1,
                        rate_per_sec: l.2,
                        burst: l.3,
                        ping_interval_ms: l.4,
                        retention_days: None,
                    },
                })
            },
        );
    prop_oneof![
        welcome,
        (any_text(), any::<i64>(), any_room(), any::<u64>(), any_ts()).prop_map(
            |(client_msg_id, id, room, seq, ts)| ServerMsg::Ack(Ack {
                client_msg_id,
                id: MessageId(id),
                room,
                seq,
                ts
            })
        ),
        (
            (any::<i64>(), any_room(), any::<u64>(), any_ts()),
            (any_text(), any_text(), any::<bool>(), any::<bool>())
        )
            .prop_map(|((id, room, seq, ts), (from, body, edited, deleted))| {
                ServerMsg::Message(MessageEvent {
                    id: MessageId(id),
                    room,
                    seq,
                    ts,
                    from,
                    body,
                    edited,
                    deleted,
                    file: None,
                    ..Default::default()
                })
            }),
        any_room_event(),
        Just(ServerMsg::Synced),
        any_text().prop_map(|nonce| ServerMsg::Pong { nonce }),
        (any_text(), any::<bool>()).prop_map(|(user, online)| ServerMsg::Presence { user, online }),
        (
            any_code(),
            any_text(),
            proptest::option::of(any::<u64>()),
            proptest::option::of(any_text())
        )
            .prop_map(|(code, message, retry_after_ms, client_msg_id)| {
                ServerMsg::Error(ErrorMsg {
                    code,
                    message,
                    retry_after_ms,
                    client_msg_id,
                })
            }),
    ]
}

proptest! {
    #[test]
    fn client_messages_round_trip(msg in any_client_msg()) {
        let json = serde_json::to_string(&msg).unwrap();
        prop_assert_eq!(serde_json::from_str::<ClientMsg>(&json).unwrap(), msg);
    }

    #[test]
    fn server_messages_round_trip(msg in any_server_msg()) {
        let json = msg.to_json();
        prop_assert_eq!(serde_json::from_str::<ServerMsg>(&json).unwrap(), msg);
    }

    #[test]
    fn garbage_never_panics(s in any_text()) {
        let _ = serde_json::from_str::<ClientMsg>(&s);
    }
}
