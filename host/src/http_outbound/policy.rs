//! What an `http.outbound:<pattern>` grant means, and the checks every request passes before the
//! host connects: the grant (scheme, host, port), then every address the host name resolves to.
//!
//! Pattern: `[scheme://]host[:port]`, lowercase.
//! - scheme: `http` or `https`; none means both.
//! - host: an exact name (`api.example.com`), `*.example.com` (any name *below* example.com, not
//!   example.com itself), an IPv4 literal (`127.0.0.1`) or a bracketed IPv6 literal (`[::1]`).
//! - port: none means the scheme's default port only (80 for http, 443 for https).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use super::address::inward_reason;
use super::error::OutboundError;
use crate::error::PlazaError;

/// The schemes outbound requests may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A host as a request or a pattern names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A DNS name: lowercase, without a trailing dot.
    Name(String),
    /// An IP literal, IPv4-mapped IPv6 folded to IPv4 (it is the same destination).
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(Host),
    /// `*.{suffix}`: names ending in `.{suffix}`.
    Below(String),
}

/// One parsed `http.outbound` grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundPattern {
    scheme: Option<Scheme>,
    host: HostPattern,
    port: Option<u16>,
}

/// Whether `name` is a DNS host name: labels of letters, digits and inner hyphens.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// Splits `host[:port]` where host may be a bracketed IPv6 literal.
fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if s.starts_with('[') {
        let end = s.find(']')?;
        let (host, rest) = s.split_at(end + 1);
        match rest {
            "" => Some((host, None)),
            _ => Some((host, Some(rest.strip_prefix(':')?))),
        }
    } else {
        match s.split_once(':') {
            Some((host, port)) => Some((host, Some(port))),
            None => Some((s, None)),
        }
    }
}

/// Parses the host part of a pattern or request (`name`, `1.2.3.4`, `[::1]`).
fn parse_host(s: &str) -> Option<Host> {
    if let Some(inner) = s.strip_prefix('[') {
        let v6: Ipv6Addr = inner.strip_suffix(']')?.parse().ok()?;
        return Some(Host::Ip(IpAddr::V6(v6).to_canonical()));
    }
    if let Ok(ip) = s.parse::<std::net::Ipv4Addr>() {
        return Some(Host::Ip(IpAddr::V4(ip)));
    }
    // One trailing dot names the same (fully qualified) host.
    let name = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
    valid_name(&name).then_some(Host::Name(name))
}

fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|p| *p != 0)
}

impl OutboundPattern {
    /// Parses a pattern (the part after `http.outbound:`), refusing anything this module would
    /// not know how to match, so that a grant cannot silently mean nothing.
    pub fn parse(pattern: &str) -> Result<Self, PlazaError> {
        let bad = |why: &str| {
            PlazaError::invalid(format!(
                "outbound host pattern {pattern:?} {why}; expected [http:// or https://]host[:port] \
                 where host is a name, *.domain, an IPv4 address or a bracketed IPv6 address"
            ))
        };
        let (scheme, rest) = if let Some(rest) = pattern.strip_prefix("https://") {
            (Some(Scheme::Https), rest)
        } else if let Some(rest) = pattern.strip_prefix("http://") {
            (Some(Scheme::Http), rest)
        } else if pattern.contains("://") {
            return Err(bad("has a scheme other than http or https"));
        } else {
            (None, pattern)
        };
        if rest.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad("is not lowercase"));
        }
        let (host, port) = split_host_port(rest).ok_or_else(|| bad("is malformed"))?;
        let port = match port {
            Some(p) => Some(parse_port(p).ok_or_else(|| bad("has an invalid port"))?),
            None => None,
        };
        let host = if let Some(suffix) = host.strip_prefix("*.") {
            // A wildcard must name a domain below a top-level one: `*.com` would grant a continent.
            if !valid_name(suffix) || !suffix.contains('.') {
                return Err(bad("has an invalid wildcard (use *.example.com)"));
            }
            HostPattern::Below(suffix.to_string())
        } else if host.ends_with('.') {
            return Err(bad("ends with a dot"));
        } else {
            HostPattern::Exact(parse_host(host).ok_or_else(|| bad("has an invalid host"))?)
        };
        Ok(OutboundPattern { scheme, host, port })
    }

    /// Whether a request to `scheme://host:port` is within this grant.
    pub fn matches(&self, scheme: Scheme, host: &Host, port: u16) -> bool {
        let scheme_ok = self.scheme.is_none_or(|s| s == scheme);
        let port_ok = match self.port {
            Some(p) => p == port,
            None => port == scheme.default_port(),
        };
        let host_ok = match (&self.host, host) {
            (HostPattern::Exact(h), host) => h == host,
            (HostPattern::Below(suffix), Host::Name(name)) => name
                .strip_suffix(suffix.as_str())
                .and_then(|head| head.strip_suffix('.'))
                .is_some_and(|head| !head.is_empty()),
            (HostPattern::Below(_), Host::Ip(_)) => false,
        };
        scheme_ok && port_ok && host_ok
    }

    /// Whether every request `other` admits is admitted by this pattern too: the manifest may
    /// request `*.example.com` and the operator grant `api.example.com` (or the whole pattern).
    pub fn covers(&self, other: &OutboundPattern) -> bool {
        let scheme_ok = match (self.scheme, other.scheme) {
            (None, _) => true,
            (Some(a), Some(b)) => a == b,
            (Some(_), None) => false,
        };
        // A pattern without a port admits each scheme's default port only.
        let port_ok = match (self.port, other.port) {
            (Some(a), Some(b)) => a == b,
            (None, None) => true,
            (None, Some(p)) => match other.scheme {
                Some(s) => p == s.default_port(),
                None => false,
            },
            (Some(p), None) => match other.scheme {
                Some(s) => p == s.default_port(),
                None => false,
            },
        };
        let host_ok = match (&self.host, &other.host) {
            (HostPattern::Exact(a), HostPattern::Exact(b)) => a == b,
            (HostPattern::Below(suffix), HostPattern::Exact(Host::Name(name))) => name
                .strip_suffix(suffix.as_str())
                .and_then(|head| head.strip_suffix('.'))
                .is_some_and(|head| !head.is_empty()),
            (HostPattern::Below(a), HostPattern::Below(b)) => {
                a == b || b.strip_suffix(a.as_str()).is_some_and(|h| h.ends_with('.'))
            }
            _ => false,
        };
        scheme_ok && port_ok && host_ok
    }

    /// Whether this pattern names `ip` literally (and admits `scheme` and `port`): the only way
    /// an inward address is reachable.
    fn names_address(&self, scheme: Scheme, ip: IpAddr, port: u16) -> bool {
        self.matches(scheme, &Host::Ip(ip.to_canonical()), port)
    }
}

impl fmt::Display for OutboundPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = self.scheme {
            write!(f, "{}://", s.as_str())?;
        }
        match &self.host {
            HostPattern::Exact(h) => write!(f, "{h}")?,
            HostPattern::Below(suffix) => write!(f, "*.{suffix}")?,
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// Where a request goes: the scheme, host and port taken from its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scheme: Scheme,
    pub host: Host,
    pub port: u16,
    /// Whether the URL spelled the port out (then the `host` header does too).
    pub explicit_port: bool,
}

impl Target {
    /// The target of a request URI, which must be absolute (`scheme://host[:port]/…`).
    pub fn from_uri(uri: &http::Uri) -> Result<Self, OutboundError> {
        let invalid = |why: &str| OutboundError::InvalidRequest(why.to_string());
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
            Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
            Some(_) => return Err(invalid("the scheme must be http or https")),
            None => return Err(invalid("the URL has no scheme")),
        };
        let host = uri.host().ok_or_else(|| invalid("the URL has no host"))?;
        let host = parse_host(host).ok_or_else(|| invalid("the URL's host is not a valid name"))?;
        let (port, explicit_port) = match uri.port_u16() {
            Some(0) => return Err(invalid("port 0 is not a destination")),
            Some(p) => (p, true),
            None => (scheme.default_port(), false),
        };
        Ok(Target {
            scheme,
            host,
            port,
            explicit_port,
        })
    }

    /// The `host` header value: the host, and the port when the URL gave one.
    pub fn host_header(&self) -> String {
        if self.explicit_port {
            format!("{}:{}", self.host, self.port)
        } else {
            self.host.to_string()
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme.as_str(), self.host, self.port)
    }
}

/// The outbound grants of one installation, parsed.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    patterns: Vec<OutboundPattern>,
}

impl Policy {
    /// Parses the granted patterns. One that does not parse (granted before this module refused
    /// it at grant time) grants nothing and is logged, rather than failing every request.
    pub fn new(granted: &[String]) -> Self {
        let patterns = granted
            .iter()
            .filter_map(|p| match OutboundPattern::parse(p) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!(pattern = %p, error = %e, "ignoring unusable outbound grant");
                    None
                }
            })
            .collect();
        Policy { patterns }
    }

    /// The granted patterns, for error messages.
    pub fn granted(&self) -> String {
        if self.patterns.is_empty() {
            return "none".to_string();
        }
        self.patterns
            .iter()
            .map(|p| format!("http.outbound:{p}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The grant check: some pattern admits the target's scheme, host and port.
    pub fn check(&self, target: &Target) -> Result<(), OutboundError> {
        if self
            .patterns
            .iter()
            .any(|p| p.matches(target.scheme, &target.host, target.port))
        {
            return Ok(());
        }
        Err(OutboundError::NotGranted {
            target: target.to_string(),
            granted: self.granted(),
        })
    }

    /// The SSRF guard, on one address the target resolved to: public addresses pass; an inward
    /// one (loopback, private, …) passes only when a grant names that very address, scheme and
    /// port.
    pub fn check_address(&self, target: &Target, ip: IpAddr) -> Result<(), OutboundError> {
        let Some(reason) = inward_reason(ip) else {
            return Ok(());
        };
        if self
            .patterns
            .iter()
            .any(|p| p.names_address(target.scheme, ip, target.port))
        {
            return Ok(());
        }
        Err(OutboundError::AddressProhibited {
            target: target.to_string(),
            address: ip.to_canonical(),
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(s: &str) -> OutboundPattern {
        OutboundPattern::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn target(url: &str) -> Target {
        Target::from_uri(&url.parse().unwrap()).unwrap()
    }

    fn allows(pattern: &str, url: &str) -> bool {
        let t = target(url);
        pat(pattern).matches(t.scheme, &t.host, t.port)
    }

    #[test]
    fn patterns_parse_and_display_canonically() {
        for s in [
            "api.example.com",
            "*.example.com",
            "https://api.example.com",
            "http://*.example.com:8080",
            "127.0.0.1:9000",
            "[::1]",
            "https://[2001:db8::1]:8443",
        ] {
            assert_eq!(pat(s).to_string(), s);
        }
        // IPv4-mapped IPv6 is the IPv4 address.
        assert_eq!(pat("[::ffff:10.0.0.1]").to_string(), "10.0.0.1");
        for bad in [
            "",
            "*",
            "*.com",
            "a.*.example.com",
            "ftp://example.com",
            "Example.com",
            "example.com:0",
            "example.com:65536",
            "example.com:http",
            "example.com.",
            "::1",
            "[::1",
            "[::1]x",
            "-bad.example.com",
            "exa_mple.com",
            "example.com/path",
        ] {
            assert!(
                OutboundPattern::parse(bad).is_err(),
                "{bad:?} must not parse"
            );
        }
    }

    #[test]
    fn scheme_is_optional_and_port_defaults_to_the_schemes() {
        assert!(allows("api.example.com", "http://api.example.com/x"));
        assert!(allows("api.example.com", "https://api.example.com/x"));
        assert!(allows("api.example.com", "https://api.example.com:443/"));
        assert!(!allows("api.example.com", "https://api.example.com:80/"));
        assert!(!allows("api.example.com", "http://api.example.com:8080/"));
        assert!(allows(
            "api.example.com:8080",
            "http://api.example.com:8080/"
        ));
        assert!(allows(
            "api.example.com:8080",
            "https://api.example.com:8080/"
        ));
        assert!(!allows("api.example.com:8080", "https://api.example.com/"));
        assert!(allows(
            "https://api.example.com",
            "https://api.example.com/"
        ));
        assert!(!allows(
            "https://api.example.com",
            "http://api.example.com:443/"
        ));
        assert!(!allows(
            "http://api.example.com",
            "https://api.example.com/"
        ));
    }

    #[test]
    fn hosts_match_exactly_or_below_a_wildcard() {
        assert!(!allows("api.example.com", "https://example.com/"));
        assert!(!allows("api.example.com", "https://x.api.example.com/"));
        assert!(!allows(
            "api.example.com",
            "https://api.example.com.evil.net/"
        ));
        assert!(allows("api.example.com", "https://API.Example.com./"));
        assert!(allows("*.example.com", "https://api.example.com/"));
        assert!(allows("*.example.com", "https://a.b.example.com/"));
        assert!(!allows("*.example.com", "https://example.com/"));
        assert!(!allows("*.example.com", "https://badexample.com/"));
        assert!(!allows("*.example.com", "https://example.com.evil.net/"));
        assert!(!allows("*.example.com", "https://93.184.216.34/"));
        assert!(allows("127.0.0.1:9000", "http://127.0.0.1:9000/"));
        assert!(!allows("127.0.0.1:9000", "http://127.0.0.2:9000/"));
        assert!(!allows("127.0.0.1:9000", "http://localhost:9000/"));
        assert!(allows("[::1]:9000", "http://[::1]:9000/"));
        assert!(allows("127.0.0.1:9000", "http://[::ffff:127.0.0.1]:9000/"));
        assert!(!allows("localhost:9000", "http://127.0.0.1:9000/"));
    }

    #[test]
    fn refusals_name_the_target_and_the_grants() {
        let policy = Policy::new(&["api.example.com".into(), "127.0.0.1:9000".into()]);
        let err = policy.check(&target("http://10.0.0.1:9000/")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("http://10.0.0.1:9000"), "{msg}");
        assert!(
            msg.contains("http.outbound:api.example.com, http.outbound:127.0.0.1:9000"),
            "{msg}"
        );
        let none = Policy::new(&[]).check(&target("https://a.example.com/"));
        assert!(none.unwrap_err().to_string().contains("granted: none"));
    }

    #[test]
    fn inward_addresses_need_a_literal_grant_of_that_address_and_port() {
        let named = Policy::new(&["localhost:9000".into()]);
        let t = target("http://localhost:9000/");
        assert!(named.check(&t).is_ok());
        let err = named
            .check_address(&t, "127.0.0.1".parse().unwrap())
            .unwrap_err();
        assert!(
            err.to_string().contains("127.0.0.1, a loopback address"),
            "{err}"
        );
        assert!(
            named
                .check_address(&t, "93.184.216.34".parse().unwrap())
                .is_ok()
        );

        let literal = Policy::new(&["localhost:9000".into(), "127.0.0.1:9000".into()]);
        assert!(
            literal
                .check_address(&t, "127.0.0.1".parse().unwrap())
                .is_ok()
        );
        assert!(
            literal
                .check_address(&t, "::ffff:127.0.0.1".parse().unwrap())
                .is_ok()
        );
        assert!(literal.check_address(&t, "::1".parse().unwrap()).is_err());
        let other_port = target("http://localhost:9001/");
        assert!(
            literal
                .check_address(&other_port, "127.0.0.1".parse().unwrap())
                .is_err()
        );
    }

    #[test]
    fn unusable_stored_patterns_grant_nothing() {
        let p = Policy::new(&["*".into(), "api.example.com".into()]);
        assert_eq!(p.granted(), "http.outbound:api.example.com");
    }
}
