//! A cap on the connections one address may hold before it authenticates.
//!
//! Every accepted TCP connection takes a [`Slot`] for its peer: an IPv4
//! address, or an IPv6 /64 (what one host or home network usually gets).
//! A peer over the cap has its new connection closed at once, before any
//! TLS work, so 5,000 idle sockets from one address cost the server almost
//! nothing and other peers are served as usual. A connection that becomes
//! an authenticated WebSocket gives its slot back, so a whole office behind
//! one NAT address can stay connected; HTTP connections keep theirs until
//! they close.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Open unauthenticated connections per peer.
#[derive(Debug)]
pub struct PeerLimits {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place under its peer's cap; released when dropped or
/// by [`Slot::release`], whichever comes first.
#[derive(Debug)]
pub struct Slot {
    limits: Arc<PeerLimits>,
    peer: IpAddr,
    held: AtomicBool,
}

impl PeerLimits {
    pub fn new(max: usize) -> Arc<PeerLimits> {
        Arc::new(PeerLimits {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for a connection from `ip`, or `None` when its peer is full.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let peer = peer_of(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(peer).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Slot {
            limits: self.clone(),
            peer,
            held: AtomicBool::new(true),
        })
    }

    /// A slot under no cap, for a trusted reverse proxy's connections
    /// (it carries many clients; it caps them itself).
    pub fn exempt(self: &Arc<Self>, ip: IpAddr) -> Slot {
        Slot {
            limits: self.clone(),
            peer: peer_of(ip),
            held: AtomicBool::new(false),
        }
    }

    /// Unauthenticated connections `ip`'s peer holds now.
    pub fn open(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(&peer_of(ip)).copied().unwrap_or(0)
    }
}

impl Slot {
    /// Gives the slot back early (the connection authenticated).
    pub fn release(&self) {
        if !self.held.swap(false, Ordering::AcqRel) {
            return;
        }
        let mut open = self.limits.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.peer);
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.release();
    }
}

/// The unit the cap applies to: the address itself for IPv4 (and IPv4
/// mapped into IPv6), its /64 prefix for IPv6.
pub fn peer_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut s = v6.segments();
                s[4..].fill(0);
                IpAddr::V6(s.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_each_peer_and_frees_slots_once() {
        let limits = PeerLimits::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let s1 = limits.try_acquire(a).unwrap();
        let s2 = limits.try_acquire(a).unwrap();
        assert!(limits.try_acquire(a).is_none());
        assert!(
            limits.try_acquire(b).is_some(),
            "other peers are not affected"
        );
        s1.release();
        s1.release();
        assert_eq!(limits.open(a), 1, "a second release frees nothing more");
        drop(s1);
        assert_eq!(limits.open(a), 1, "dropping a released slot frees nothing");
        let _s3 = limits.try_acquire(a).unwrap();
        drop(s2);
        assert_eq!(limits.open(a), 1);
    }

    #[test]
    fn ipv6_peers_are_64_prefixes_and_mapped_v4_is_v4() {
        let limits = PeerLimits::new(1);
        let _s = limits.try_acquire("2001:db8::1".parse().unwrap()).unwrap();
        assert!(
            limits
                .try_acquire("2001:db8::ffff:2".parse().unwrap())
                .is_none()
        );
        assert!(
            limits
                .try_acquire("2001:db8:0:1::1".parse().unwrap())
                .is_some()
        );
        let _v4 = limits.try_acquire("192.0.2.7".parse().unwrap()).unwrap();
        assert!(
            limits
                .try_acquire("::ffff:192.0.2.7".parse().unwrap())
                .is_none()
        );
    }
}
