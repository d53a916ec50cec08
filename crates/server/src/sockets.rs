//! Caps on authenticated WebSockets: per user (all their sessions
//! together) and per client address (an IPv4 address or IPv6 /64).
//!
//! A socket takes a [`SocketSlot`] before its upgrade is accepted; the
//! check and the count happen under one lock, so sockets opened together
//! cannot pass the caps. The slot is given back when the connection ends
//! (dropped with its task).

use crate::peers::peer_of;
use securechat_proto::UserId;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Which cap refused a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The user holds `max_sockets_per_user` already.
    User(usize),
    /// The address holds `max_sockets_per_ip` already.
    Address(usize),
}

#[derive(Debug, Default)]
struct Open {
    users: HashMap<UserId, usize>,
    addresses: HashMap<IpAddr, usize>,
}

/// Open authenticated sockets per user and per address.
#[derive(Debug)]
pub struct SocketLimits {
    per_user: usize,
    per_address: usize,
    open: Mutex<Open>,
}

/// One socket's place under both caps; given back when dropped.
#[derive(Debug)]
pub struct SocketSlot {
    limits: Arc<SocketLimits>,
    user: UserId,
    address: IpAddr,
}

fn take<K: Eq + Hash>(map: &mut HashMap<K, usize>, key: K) {
    *map.entry(key).or_insert(0) += 1;
}

fn give_back<K: Eq + Hash>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

impl SocketLimits {
    pub fn new(per_user: usize, per_address: usize) -> Arc<SocketLimits> {
        Arc::new(SocketLimits {
            per_user,
            per_address,
            open: Mutex::new(Open::default()),
        })
    }

    fn open(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for a socket of `user` from `ip`, or which cap is full.
    pub fn try_acquire(self: &Arc<Self>, user: UserId, ip: IpAddr) -> Result<SocketSlot, Refused> {
        let address = peer_of(ip);
        let mut open = self.open();
        if open.users.get(&user).copied().unwrap_or(0) >= self.per_user {
            return Err(Refused::User(self.per_user));
        }
        if open.addresses.get(&address).copied().unwrap_or(0) >= self.per_address {
            return Err(Refused::Address(self.per_address));
        }
        take(&mut open.users, user);
        take(&mut open.addresses, address);
        Ok(SocketSlot {
            limits: self.clone(),
            user,
            address,
        })
    }

    /// Sockets `user` holds now.
    pub fn of_user(&self, user: UserId) -> usize {
        self.open().users.get(&user).copied().unwrap_or(0)
    }

    /// Sockets `ip`'s address holds now.
    pub fn of_address(&self, ip: IpAddr) -> usize {
        self.open()
            .addresses
            .get(&peer_of(ip))
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.limits.open();
        give_back(&mut open.users, &self.user);
        give_back(&mut open.addresses, &self.address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_users_and_addresses_and_gives_slots_back() {
        let limits = SocketLimits::new(2, 3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let s1 = limits.try_acquire(UserId(1), a).unwrap();
        let _s2 = limits.try_acquire(UserId(1), a).unwrap();
        assert_eq!(
            limits.try_acquire(UserId(1), b).unwrap_err(),
            Refused::User(2)
        );
        let _s3 = limits.try_acquire(UserId(2), a).unwrap();
        assert_eq!(
            limits.try_acquire(UserId(3), a).unwrap_err(),
            Refused::Address(3)
        );
        drop(s1);
        assert_eq!(limits.of_user(UserId(1)), 1);
        assert_eq!(limits.of_address(a), 2);
        let _s4 = limits
            .try_acquire(UserId(1), "::ffff:192.0.2.1".parse().unwrap())
            .unwrap();
        assert_eq!(limits.of_address(a), 3, "mapped IPv4 is the same address");
    }
}
