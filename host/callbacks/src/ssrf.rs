//! The SSRF guard of callback delivery (docs/callbacks.md): a callback URL comes from the customer's
//! request, so without a check it could make sealmail reach what only sealmail can reach —
//! its own loopback services, the operator's private network, a cloud metadata service.
//!
//! Every address a callback would connect to is checked against the special-purpose ranges
//! below (the IANA IPv4 and IPv6 Special-Purpose Address Registries, RFC 6890) unless the
//! operator allow-listed it. An IPv6 address that embeds an IPv4 one (NAT64, RFC 6052; 6to4,
//! RFC 3056) is judged by the IPv4 address it leads to; IPv4-mapped addresses (RFC 4291
//! §2.5.5.2) are refused outright, because no public endpoint needs them and some stacks
//! connect them to the IPv4 address. The caller checks the address it will connect to —
//! after resolving, never resolving twice — and follows no redirects.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use ipnet::IpNet;

/// Special-purpose IPv4 ranges a callback may not reach: (range, what it is).
const REFUSED_V4: &[(&str, &str)] = &[
    ("0.0.0.0/8", "\"this network\""),
    ("10.0.0.0/8", "private (RFC 1918)"),
    ("100.64.0.0/10", "carrier-grade NAT (RFC 6598)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local, where cloud metadata services live (169.254.169.254)"),
    ("172.16.0.0/12", "private (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.168.0.0/16", "private (RFC 1918)"),
    ("198.18.0.0/15", "benchmarking (RFC 2544)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved, with the broadcast address"),
];

/// Special-purpose IPv6 ranges a callback may not reach.
const REFUSED_V6: &[(&str, &str)] = &[
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::ffff:0:0/96", "IPv4-mapped"),
    ("fc00::/7", "unique local (private), where e.g. fd00:ec2::254 serves cloud metadata"),
    ("fe80::/10", "link-local"),
    ("ff00::/8", "multicast"),
];

/// NAT64's well-known prefix (RFC 6052 §2.1): the last 32 bits are an IPv4 address.
const NAT64: &str = "64:ff9b::/96";
/// 6to4 (RFC 3056 §2): bits 16–47 are an IPv4 address.
const SIX_TO_FOUR: &str = "2002::/16";

/// The tables above, parsed once.
struct Ranges {
    v4: Vec<(IpNet, &'static str)>,
    v6: Vec<(IpNet, &'static str)>,
    nat64: IpNet,
    six_to_four: IpNet,
}

static RANGES: LazyLock<Ranges> = LazyLock::new(|| {
    let parse = |text: &str| text.parse::<IpNet>().expect("the tables hold valid ranges");
    let table = |rows: &[(&str, &'static str)]| rows.iter().map(|(range, what)| (parse(range), *what)).collect();
    Ranges { v4: table(REFUSED_V4), v6: table(REFUSED_V6), nat64: parse(NAT64), six_to_four: parse(SIX_TO_FOUR) }
});

/// Why an address may not be reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{address} is in {range} ({what}); callbacks may not connect there unless the operator \
     allow-lists it"
)]
pub struct Refused {
    /// The address that was checked.
    pub address: IpAddr,
    /// The special-purpose range it is in (for an embedded IPv4 address: that address's).
    pub range: IpNet,
    /// What the range is.
    pub what: &'static str,
}

/// Which special-purpose addresses the operator lets callbacks reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Every address may be reached (`allow_private_callback_ips = true`).
    pub allow_all: bool,
    /// These ranges may be reached although they are special-purpose (e.g. `127.0.0.1/32`
    /// for a receiver on the same host).
    pub allowed: Vec<IpNet>,
}

impl AddressPolicy {
    /// Whether a callback may connect to `address`.
    pub fn check(&self, address: IpAddr) -> Result<(), Refused> {
        if self.allow_all || self.allowed.iter().any(|net| net.contains(&address)) {
            return Ok(());
        }
        match special_range(address) {
            None => Ok(()),
            Some((range, what)) => Err(Refused { address, range, what }),
        }
    }

    /// Checks the host of `url` if it is a literal address; a name is checked when it is
    /// resolved, at delivery (its addresses may change until then).
    pub fn check_literal_host(&self, url: &url::Url) -> Result<(), Refused> {
        match url.host() {
            Some(url::Host::Ipv4(v4)) => self.check(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => self.check(IpAddr::V6(v6)),
            Some(url::Host::Domain(_)) | None => Ok(()),
        }
    }
}

/// The special-purpose range `address` is in, directly or through the IPv4 address it embeds.
fn special_range(address: IpAddr) -> Option<(IpNet, &'static str)> {
    let ranges = &*RANGES;
    match address {
        IpAddr::V4(_) => lookup(&ranges.v4, address),
        IpAddr::V6(v6) => lookup(&ranges.v6, address)
            .or_else(|| embedded_v4(ranges, v6).and_then(|v4| lookup(&ranges.v4, IpAddr::V4(v4)))),
    }
}

fn lookup(table: &[(IpNet, &'static str)], address: IpAddr) -> Option<(IpNet, &'static str)> {
    table.iter().find(|(net, _)| net.contains(&address)).copied()
}

/// The IPv4 address a NAT64 or 6to4 address leads to.
fn embedded_v4(ranges: &Ranges, v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(v6);
    let address = IpAddr::V6(v6);
    if ranges.nat64.contains(&address) {
        Some(Ipv4Addr::from(bits as u32))
    } else if ranges.six_to_four.contains(&address) {
        Some(Ipv4Addr::from((bits >> 80) as u32))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn special_purpose_addresses_are_refused_with_their_range() {
        let policy = AddressPolicy::default();
        for (address, range) in [
            ("127.0.0.1", "127.0.0.0/8"),
            ("10.0.0.1", "10.0.0.0/8"),
            ("172.31.255.255", "172.16.0.0/12"),
            ("192.168.1.1", "192.168.0.0/16"),
            ("169.254.169.254", "169.254.0.0/16"),
            ("100.64.0.1", "100.64.0.0/10"),
            ("0.0.0.0", "0.0.0.0/8"),
            ("255.255.255.255", "240.0.0.0/4"),
            ("224.0.0.1", "224.0.0.0/4"),
            ("::1", "::1/128"),
            ("::", "::/128"),
            ("fe80::1", "fe80::/10"),
            ("fd00:ec2::254", "fc00::/7"),
            ("::ffff:8.8.8.8", "::ffff:0.0.0.0/96"),
            ("::ffff:127.0.0.1", "::ffff:0.0.0.0/96"),
            ("64:ff9b::a9fe:a9fe", "169.254.0.0/16"),
            ("2002:7f00:1::", "127.0.0.0/8"),
        ] {
            let refused = policy.check(ip(address)).expect_err(address);
            assert_eq!(refused.range.to_string(), range, "{address}");
            assert!(refused.to_string().contains(address), "{refused}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        let policy = AddressPolicy::default();
        for address in
            ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::"]
        {
            assert_eq!(policy.check(ip(address)), Ok(()), "{address}");
        }
    }

    #[test]
    fn the_operator_can_allow_ranges_or_everything() {
        let loopback = AddressPolicy { allow_all: false, allowed: vec!["127.0.0.1/32".parse().unwrap()] };
        assert_eq!(loopback.check(ip("127.0.0.1")), Ok(()));
        assert!(loopback.check(ip("127.0.0.2")).is_err(), "only the listed range");
        assert!(loopback.check(ip("::1")).is_err(), "IPv6 loopback is another range");
        let everything = AddressPolicy { allow_all: true, allowed: vec![] };
        assert_eq!(everything.check(ip("169.254.169.254")), Ok(()));
    }
}
