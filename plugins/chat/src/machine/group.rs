//! [`Group`]: a set of recipients (a room, or the online agents) with a cached,
//! shareable recipient list, so a fan-out to 1000 members allocates nothing per
//! message once membership is stable.

use std::net::SocketAddr;
use std::sync::Arc;

use switchyard_sdk::SocketId;

/// Where a session's datagrams go: its peer address, from the socket it talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dest {
    pub socket: SocketId,
    pub addr: SocketAddr,
}

/// Members in join order.
#[derive(Debug, Default)]
pub struct Group {
    members: Vec<Dest>,
    cache: Option<Arc<[Dest]>>,
}

impl Group {
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn contains(&self, addr: SocketAddr) -> bool {
        self.members.iter().any(|d| d.addr == addr)
    }

    /// Add a member; `false` if it already was one.
    pub fn insert(&mut self, dest: Dest) -> bool {
        if self.contains(dest.addr) {
            return false;
        }
        self.members.push(dest);
        self.cache = None;
        true
    }

    /// Remove a member; `false` if it was none.
    pub fn remove(&mut self, addr: SocketAddr) -> bool {
        let Some(i) = self.members.iter().position(|d| d.addr == addr) else {
            return false;
        };
        self.members.remove(i);
        self.cache = None;
        true
    }

    /// Every member, shared (built once per membership change).
    pub fn all(&mut self) -> Arc<[Dest]> {
        self.cache
            .get_or_insert_with(|| Arc::from(self.members.as_slice()))
            .clone()
    }

    /// Every member but `addr`.
    pub fn except(&self, addr: SocketAddr) -> Arc<[Dest]> {
        self.members
            .iter()
            .filter(|d| d.addr != addr)
            .copied()
            .collect()
    }

    pub fn addrs(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.members.iter().map(|d| d.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(port: u16) -> Dest {
        Dest {
            socket: SocketId(1),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    #[test]
    fn membership_and_cache() {
        let mut g = Group::default();
        assert!(g.insert(dest(1)) && g.insert(dest(2)) && !g.insert(dest(1)));
        let all = g.all();
        assert!(
            Arc::ptr_eq(&all, &g.all()),
            "cached while membership is unchanged"
        );
        assert_eq!(&*g.except(dest(1).addr), &[dest(2)]);
        assert!(g.remove(dest(1).addr) && !g.remove(dest(1).addr));
        assert_eq!(&*g.all(), &[dest(2)]);
        assert_eq!(g.len(), 1);
    }
}
