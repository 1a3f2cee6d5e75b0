//! The Sentinel side: who the primary is, by the Sentinels' word.
//!
//! Clients never hold a fixed primary: they ask a Sentinel which server is
//! the primary of [`MASTER_NAME`] (`SENTINEL get-master-addr-by-name`) and
//! go there. A failover is the Sentinels agreeing, by a quorum of them,
//! that the primary is down and promoting a replica; until the old primary
//! hears of it, two servers may each believe themselves primary. So the
//! controller, too, takes the primary to be the address a majority of the
//! Sentinels names ([`agreed_primary`]), and none while they disagree: the
//! nemesis's `primary` target and the readiness check both rest on it.

use super::query::query;
use super::MASTER_NAME;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// What the Sentinel at `addr` names as the primary.
pub(super) fn sentinel_primary(
    addr: SocketAddr,
    timeout: Duration,
) -> std::result::Result<Option<SocketAddr>, String> {
    let reply: Option<(String, u16)> = query(
        addr,
        redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(MASTER_NAME),
        timeout,
    )?;
    reply
        .map(|(ip, port)| {
            ip.parse::<IpAddr>()
                .map(|ip| SocketAddr::new(ip, port))
                .map_err(|e| format!("primary address {ip:?}: {e}"))
        })
        .transpose()
}

/// Asks each of the `sentinels` for the primary; the address a majority of
/// them names, or `None`. Blocking, each Sentinel bounded by `timeout`.
pub(super) fn agreed_primary(
    sentinels: &[SocketAddr],
    timeout: Duration,
) -> (Option<SocketAddr>, Vec<String>) {
    let mut answers: Vec<(SocketAddr, Result<Option<SocketAddr>, String>)> = Vec::new();
    for &s in sentinels {
        answers.push((s, sentinel_primary(s, timeout)));
    }
    let mut counts: Vec<(SocketAddr, usize)> = Vec::new();
    for (_, a) in &answers {
        if let Ok(Some(p)) = a {
            match counts.iter_mut().find(|(q, _)| q == p) {
                Some((_, c)) => *c += 1,
                None => counts.push((*p, 1)),
            }
        }
    }
    let shown = answers
        .iter()
        .map(|(s, a)| match a {
            Ok(Some(p)) => format!("Sentinel {s} names {p}"),
            Ok(None) => format!("Sentinel {s} names no primary"),
            Err(e) => format!("Sentinel {s}: {e}"),
        })
        .collect();
    let majority = answers.len() / 2 + 1;
    let agreed = counts
        .into_iter()
        .find(|(_, c)| *c >= majority)
        .map(|(p, _)| p);
    (agreed, shown)
}
