//! IP addresses handed out to pods and load balancers.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

/// A pool of IPv4 addresses in `base .. base + size`, keyed by the owner's uid.
#[derive(Debug)]
pub struct AddressPool {
    base: u32,
    size: u32,
    next: u32,
    by_owner: HashMap<String, Ipv4Addr>,
    used: HashSet<Ipv4Addr>,
}

impl AddressPool {
    /// 10.244.0.0/16, the node's pod CIDR.
    pub fn pod_network() -> AddressPool {
        AddressPool::new(Ipv4Addr::new(10, 244, 0, 0), 1 << 16)
    }

    /// 127.0.0.x, for LoadBalancer ingress.
    pub fn load_balancers() -> AddressPool {
        AddressPool::new(Ipv4Addr::new(127, 0, 0, 0), 256)
    }

    fn new(base: Ipv4Addr, size: u32) -> AddressPool {
        AddressPool {
            base: u32::from(base),
            size,
            next: 0,
            by_owner: HashMap::new(),
            used: HashSet::new(),
        }
    }

    /// The owner's address, allocating one if it has none; `None` when the pool is exhausted.
    pub fn allocate(&mut self, owner: &str) -> Option<Ipv4Addr> {
        if let Some(ip) = self.by_owner.get(owner) {
            return Some(*ip);
        }
        for _ in 0..self.size {
            let offset = self.next;
            self.next = (self.next + 1) % self.size;
            let last_octet = offset & 0xff;
            // Skip network, gateway (.1) and broadcast-looking addresses.
            if last_octet < 2 || last_octet == 255 {
                continue;
            }
            let ip = Ipv4Addr::from(self.base + offset);
            if self.used.insert(ip) {
                self.by_owner.insert(owner.to_string(), ip);
                return Some(ip);
            }
        }
        None
    }

    pub fn release(&mut self, owner: &str) {
        if let Some(ip) = self.by_owner.remove(owner) {
            self.used.remove(&ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_keep_their_address_and_addresses_are_unique() {
        let mut pool = AddressPool::pod_network();
        let a = pool.allocate("a").unwrap();
        let b = pool.allocate("b").unwrap();
        assert_ne!(a, b);
        assert_eq!(pool.allocate("a"), Some(a));
        assert_eq!(a, Ipv4Addr::new(10, 244, 0, 2));
        pool.release("a");
        assert_ne!(pool.allocate("c"), Some(b));
    }

    #[test]
    fn load_balancer_addresses_are_loopback() {
        let mut pool = AddressPool::load_balancers();
        assert_eq!(pool.allocate("svc"), Some(Ipv4Addr::new(127, 0, 0, 2)));
    }
}
