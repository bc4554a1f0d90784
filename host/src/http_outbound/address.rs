//! Which IP addresses a plugin may reach without naming them: the SSRF guard's classification.
//!
//! Anything that is not ordinary public unicast is "inward": loopback, private and unique-local
//! ranges, link-local, shared (CGNAT), multicast, broadcast, documentation and benchmarking ranges,
//! reserved space, and the IPv6 forms that embed one of those IPv4 addresses (IPv4-mapped, NAT64,
//! 6to4). IPv6 is checked against an allow-list (global unicast `2000::/3`) first, so space that
//! is assigned later is refused until this table learns about it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 ranges that are not public unicast, with the word an error message uses for each.
/// Sources: the IANA IPv4 Special-Purpose Address Registry (RFC 6890 and successors).
const V4_INWARD: &[(u32, u8, &str)] = &[
    (0xFFFF_FFFF, 32, "broadcast"),
    (0x0000_0000, 8, "unspecified (this-network)"),
    (0x0A00_0000, 8, "private"),
    (0x6440_0000, 10, "shared (carrier-grade NAT)"),
    (0x7F00_0000, 8, "loopback"),
    (0xA9FE_0000, 16, "link-local"),
    (0xAC10_0000, 12, "private"),
    (0xC000_0000, 24, "IETF protocol assignment"),
    (0xC000_0200, 24, "documentation"),
    (0xC058_6300, 24, "6to4 relay anycast"),
    (0xC0A8_0000, 16, "private"),
    (0xC612_0000, 15, "benchmarking"),
    (0xC633_6400, 24, "documentation"),
    (0xCB00_7100, 24, "documentation"),
    (0xE000_0000, 4, "multicast"),
    (0xF000_0000, 4, "reserved"),
];

/// IPv6 ranges inside global unicast (`2000::/3`) that are still not public.
const V6_INWARD: &[(u128, u8, &str)] = &[
    (0x2001_0000 << 96, 23, "IETF protocol assignment"),
    (0x2001_0db8 << 96, 32, "documentation"),
    (0x3fff_0000 << 96, 20, "documentation"),
];

fn in_v4(addr: u32, net: u32, len: u8) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    addr & mask == net
}

fn in_v6(addr: u128, net: u128, len: u8) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    addr & mask == net
}

/// Why `ip` is not a public address a plugin may reach through a host name, or `None` when it is.
pub fn inward_reason(ip: IpAddr) -> Option<&'static str> {
    // `::ffff:a.b.c.d` is the IPv4 address a.b.c.d on a dual-stack socket.
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let a = u32::from(ip);
    V4_INWARD
        .iter()
        .find(|(net, len, _)| in_v4(a, *net, *len))
        .map(|(_, _, why)| *why)
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let a = u128::from(ip);
    let embedded_v4 = |shift: u32| Ipv4Addr::from((a >> shift) as u32);
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    // NAT64 (RFC 6052) and 6to4 (RFC 3056) reach the IPv4 address they embed: judge that one.
    if in_v6(a, 0x0064_ff9b << 96, 96) {
        return v4_reason(embedded_v4(0));
    }
    if in_v6(a, 0x2002 << 112, 16) {
        return v4_reason(embedded_v4(80));
    }
    let special = [
        (0u128, 96u8, "IPv4-compatible (deprecated)"),
        (0x0064_ff9b_0001 << 80, 48, "NAT64 local-use"),
        (0x0100 << 112, 64, "discard-only"),
        (0xfc00 << 112, 7, "unique-local (private)"),
        (0xfe80 << 112, 10, "link-local"),
        (0xfec0 << 112, 10, "site-local (deprecated)"),
        (0xff00 << 112, 8, "multicast"),
    ];
    if let Some((_, _, why)) = special.iter().find(|(n, l, _)| in_v6(a, *n, *l)) {
        return Some(why);
    }
    if !in_v6(a, 0x2000 << 112, 3) {
        return Some("reserved (not global unicast)");
    }
    V6_INWARD
        .iter()
        .find(|(net, len, _)| in_v6(a, *net, *len))
        .map(|(_, _, why)| *why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(s: &str) -> Option<&'static str> {
        inward_reason(s.parse().unwrap())
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "64:ff9b::808:808",
            "2002:0808:0808::1",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(reason(ip), None, "{ip} is public");
        }
    }

    #[test]
    fn inward_addresses_are_refused_with_their_kind() {
        for (ip, why) in [
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("0.0.0.0", "unspecified (this-network)"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("100.127.255.255", "shared (carrier-grade NAT)"),
            ("169.254.169.254", "link-local"),
            ("192.0.0.8", "IETF protocol assignment"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "broadcast"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("::127.0.0.1", "IPv4-compatible (deprecated)"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("64:ff9b:1::1", "NAT64 local-use"),
            ("2002:7f00:0001::1", "loopback"),
            ("2002:c0a8:0101::1", "private"),
            ("100::1", "discard-only"),
            ("2001::1", "IETF protocol assignment"),
            ("2001:db8::1", "documentation"),
            ("3fff::1", "documentation"),
            ("fc00::1", "unique-local (private)"),
            ("fd12:3456::1", "unique-local (private)"),
            ("fe80::1", "link-local"),
            ("fec0::1", "site-local (deprecated)"),
            ("ff02::1", "multicast"),
            ("4000::1", "reserved (not global unicast)"),
        ] {
            assert_eq!(reason(ip), Some(why), "{ip}");
        }
    }
}
