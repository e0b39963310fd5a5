//! DNS for direct delivery: where mail for a domain goes (RFC 5321 §5.1).
//!
//! The MX records in preference order, equal preferences shuffled (RFC 5321 §5.1: "the
//! sender-SMTP MUST randomize them to spread the load"); no MX record means the domain
//! itself is the mail server (the "implicit MX", its A/AAAA records); a single MX whose
//! exchange is the root `.` is a null MX (RFC 7505): the domain accepts no mail at all.
//!
//! Only answers DNS questions; never connects to a mail server.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ProtocolConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::ProtoError;
use hickory_resolver::{Name, TokioResolver};
use rand::SeedableRng as _;
use rand::seq::SliceRandom as _;

/// Where mail for one domain goes, as far as DNS can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    /// MX host names, in the order to try them (addresses looked up when tried).
    Exchangers(Vec<String>),
    /// No MX: the domain's own addresses (RFC 5321 §5.1 implicit MX), or the address of an
    /// address literal `user@[192.0.2.1]` (RFC 5321 §4.1.3).
    Addresses(Vec<IpAddr>),
    /// RFC 7505 null MX: the domain accepts no mail.
    NullMx,
    /// NXDOMAIN: the domain does not exist.
    NoSuchDomain,
    /// The domain exists but has neither MX nor A/AAAA records.
    NoAddress,
}

/// A DNS resolver (cheap to clone; clones share the cache).
#[derive(Clone)]
pub(super) struct Dns {
    resolver: TokioResolver,
}

impl Dns {
    /// A resolver asking `nameservers` (UDP, TCP for truncated answers), or the servers of
    /// `/etc/resolv.conf` when the list is empty; no query waits longer than `timeout`.
    pub(super) fn new(nameservers: &[SocketAddr], timeout: Duration) -> Result<Self, String> {
        let provider = TokioConnectionProvider::default();
        let mut builder = if nameservers.is_empty() {
            TokioResolver::builder(provider).map_err(|e| format!("cannot read the system's DNS configuration: {e}"))?
        } else {
            // `default()` has no name servers: only the configured ones are asked.
            let mut config = ResolverConfig::default();
            for address in nameservers {
                config.add_name_server(NameServerConfig::new(*address, ProtocolConfig::Udp));
                config.add_name_server(NameServerConfig::new(*address, ProtocolConfig::Tcp));
            }
            TokioResolver::builder_with_config(config, provider).with_options(ResolverOpts::default())
        };
        // Names are looked up as given (fully qualified): a recipient domain must never be
        // completed with the local search list.
        builder.options_mut().ndots = 0;
        // The transport's `timeout_secs` bounds DNS too (hickory's default: 5 s per try).
        let options = builder.options_mut();
        options.timeout = options.timeout.min(timeout);
        Ok(Self { resolver: builder.build() })
    }

    /// Where mail for `domain` (the part after `@`) goes. `Err` is a temporary failure
    /// (SERVFAIL, timeout, no name server answering): worth retrying later.
    pub(super) async fn route(&self, domain: &str) -> Result<Route, String> {
        if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
            return Ok(match literal.strip_prefix("IPv6:").unwrap_or(literal).parse::<IpAddr>() {
                Ok(ip) => Route::Addresses(vec![ip]),
                Err(_) => Route::NoSuchDomain,
            });
        }
        let Some(name) = fqdn(domain) else { return Ok(Route::NoSuchDomain) };
        match self.resolver.mx_lookup(name.clone()).await {
            Ok(lookup) => {
                let records: Vec<(u16, Name)> =
                    lookup.iter().map(|mx| (mx.preference(), mx.exchange().clone())).collect();
                if records.is_empty() {
                    return self.implicit(name).await;
                }
                // RFC 7505 §3: a null MX is the only MX of its domain; should it come with
                // others, those others are still usable.
                let hosts: Vec<(u16, String)> = records
                    .iter()
                    .filter(|(_, exchange)| !exchange.is_root())
                    .map(|(preference, exchange)| (*preference, host_name(exchange)))
                    .collect();
                if hosts.is_empty() {
                    return Ok(Route::NullMx);
                }
                Ok(Route::Exchangers(in_preference_order(hosts, &mut rand::rngs::StdRng::from_os_rng())))
            }
            Err(e) if e.is_nx_domain() => Ok(Route::NoSuchDomain),
            // NOERROR without MX records: the implicit MX (RFC 5321 §5.1).
            Err(e) if e.is_no_records_found() => self.implicit(name).await,
            Err(e) => Err(format!("DNS lookup of MX {domain} failed: {}", brief(&e))),
        }
    }

    /// The addresses of an MX host. `Err` says why there are none (the host is skipped).
    pub(super) async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let Some(name) = fqdn(host) else { return Err(format!("{host:?} is not a host name")) };
        match self.resolver.lookup_ip(name).await {
            Ok(lookup) => Ok(lookup.iter().collect()),
            Err(e) if e.is_no_records_found() => Err(format!("{host} has no address (A/AAAA)")),
            Err(e) => Err(format!("DNS lookup of {host} failed: {}", brief(&e))),
        }
    }

    /// The domain's own addresses, for a domain without MX.
    async fn implicit(&self, name: Name) -> Result<Route, String> {
        match self.resolver.lookup_ip(name.clone()).await {
            Ok(lookup) => {
                let addresses: Vec<IpAddr> = lookup.iter().collect();
                Ok(if addresses.is_empty() { Route::NoAddress } else { Route::Addresses(addresses) })
            }
            Err(e) if e.is_nx_domain() => Ok(Route::NoSuchDomain),
            Err(e) if e.is_no_records_found() => Ok(Route::NoAddress),
            Err(e) => Err(format!("DNS lookup of A/AAAA {} failed: {}", host_name(&name), brief(&e))),
        }
    }
}

/// `domain` as a fully qualified name (international names in their A-label form,
/// RFC 5890), or `None` when it is not a domain name.
fn fqdn(domain: &str) -> Option<Name> {
    let mut name = Name::from_utf8(domain.trim_end_matches('.')).ok()?;
    // `""` and `"."` parse to a name without labels: the root, no mail domain.
    if name.num_labels() == 0 {
        return None;
    }
    name.set_fqdn(true);
    Some(name)
}

/// A host name for messages and lookups: ASCII, without the root's trailing dot.
fn host_name(name: &Name) -> String {
    name.to_ascii().trim_end_matches('.').to_owned()
}

/// hickory's error text without its query dump.
fn brief(e: &ProtoError) -> String {
    e.to_string().lines().next().unwrap_or_default().to_owned()
}

/// Host names by ascending preference; hosts of equal preference in random order (RFC 5321
/// §5.1), each host once (at its best preference).
fn in_preference_order(mut hosts: Vec<(u16, String)>, rng: &mut impl rand::Rng) -> Vec<String> {
    hosts.shuffle(rng);
    // A stable sort keeps the shuffled order within one preference.
    hosts.sort_by_key(|(preference, _)| *preference);
    let mut ordered: Vec<String> = Vec::with_capacity(hosts.len());
    for (_, host) in hosts {
        if !ordered.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
            ordered.push(host);
        }
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preference_order_with_equal_preferences_shuffled() {
        let hosts = || {
            vec![
                (20, "c.example".to_owned()),
                (10, "a.example".to_owned()),
                (10, "b.example".to_owned()),
                (30, "a.example".to_owned()),
            ]
        };
        let mut seen_first = std::collections::BTreeSet::new();
        for seed in 0..64 {
            let order = in_preference_order(hosts(), &mut rand::rngs::StdRng::seed_from_u64(seed));
            assert_eq!(order.len(), 3, "duplicates dropped: {order:?}");
            assert_eq!(order[2], "c.example", "{order:?}");
            seen_first.insert(order[0].clone());
        }
        assert_eq!(seen_first.len(), 2, "both preference-10 hosts come first sometimes: {seen_first:?}");
    }

    #[tokio::test]
    async fn address_literals_need_no_dns() {
        let dns = Dns::new(&["127.0.0.1:9".parse().expect("addr")], Duration::from_secs(1)).expect("resolver");
        assert_eq!(dns.route("[192.0.2.1]").await, Ok(Route::Addresses(vec!["192.0.2.1".parse().expect("ip")])));
        assert_eq!(
            dns.route("[IPv6:2001:db8::1]").await,
            Ok(Route::Addresses(vec!["2001:db8::1".parse().expect("ip")]))
        );
        assert_eq!(dns.route("[not an ip]").await, Ok(Route::NoSuchDomain));
    }

    #[test]
    fn names_are_fully_qualified_a_labels() {
        assert_eq!(fqdn("Example.COM").map(|n| n.to_ascii()), Some("example.com.".to_owned()));
        assert_eq!(fqdn("bücher.example").map(|n| n.to_ascii()), Some("xn--bcher-kva.example.".to_owned()));
        assert!(fqdn("").is_none());
    }
}
