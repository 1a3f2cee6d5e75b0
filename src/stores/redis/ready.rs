//! When a Redis cluster is ready: every server, every Sentinel, one
//! primary.
//!
//! A cluster is ready when every server answers PING, every Sentinel names
//! the same primary, each Sentinel knows every replica (or it could not
//! promote one) and the other Sentinels (or it could not win a failover
//! vote), the primary says it is the primary, and every other server
//! replicates from it with its link up. One pass of that check
//! ([`ready_once`]) answers either ready or the first thing that is not
//! so yet, with its node and process, so that a cluster that never gets
//! there is reported by the node to look at and the last line of its log.

use super::config::{Role, Settings};
use super::query::query;
use super::sentinel::sentinel_primary;
use super::{MASTER_NAME, SENTINELS};
use crate::stores::StoreNode;
use std::net::SocketAddr;
use std::time::Duration;

/// Why a cluster is not ready yet: the node, which of its processes, what.
pub(super) type NotReady = (StoreNode, Role, String);

/// One pass of the readiness check: `Ok` when every server answers, all
/// Sentinels name one primary, it says it is the primary and every other
/// server replicates from it with its link up; else what is not so yet,
/// and on which node. Blocking.
pub(super) fn ready_once(nodes: &[StoreNode], s: &Settings) -> std::result::Result<(), NotReady> {
    let t = Duration::from_millis(500);
    let server = |n: &StoreNode| SocketAddr::new(n.ip, s.server_port);
    for n in nodes {
        if let Err(e) = query::<String>(server(n), &redis::cmd("PING"), t) {
            return Err((n.clone(), Role::Server, format!("PING: {e}")));
        }
    }
    let answers: Vec<(usize, Result<Option<SocketAddr>, String>)> = nodes
        .iter()
        .take(SENTINELS)
        .enumerate()
        .map(|(i, n)| {
            (
                i,
                sentinel_primary(SocketAddr::new(n.ip, s.sentinel_port), t),
            )
        })
        .collect();
    let mut primary = None;
    for (i, a) in &answers {
        let n = nodes[*i].clone();
        match a {
            Err(e) => return Err((n, Role::Sentinel, e.clone())),
            Ok(None) => return Err((n, Role::Sentinel, "names no primary".into())),
            Ok(Some(p)) => match primary {
                None => primary = Some(*p),
                Some(q) if q == *p => {}
                Some(q) => {
                    return Err((
                        n,
                        Role::Sentinel,
                        format!("names {p} as primary while another Sentinel names {q}"),
                    ))
                }
            },
        }
    }
    let primary = primary.expect("three Sentinels answered");
    // Each Sentinel knows every replica (or it could not promote one) and
    // the other Sentinels (or it could not win a failover vote).
    for (i, n) in nodes.iter().take(SENTINELS).enumerate() {
        let sentinel = SocketAddr::new(n.ip, s.sentinel_port);
        let fields: Vec<String> = query(
            sentinel,
            redis::cmd("SENTINEL").arg("MASTER").arg(MASTER_NAME),
            t,
        )
        .map_err(|e| (n.clone(), Role::Sentinel, e))?;
        let field = |k: &str| -> usize {
            fields
                .chunks(2)
                .find(|kv| kv[0] == k)
                .and_then(|kv| kv.get(1)?.parse().ok())
                .unwrap_or(0)
        };
        let (replicas, peers) = (field("num-slaves"), field("num-other-sentinels"));
        if replicas + 1 < nodes.len() || peers + 1 < SENTINELS {
            return Err((
                n.clone(),
                Role::Sentinel,
                format!(
                    "Sentinel {} knows {replicas} of {} replicas and {peers} of {} other Sentinels",
                    i + 1,
                    nodes.len() - 1,
                    SENTINELS - 1
                ),
            ));
        }
    }
    for n in nodes {
        let addr = server(n);
        let info: String = query(addr, redis::cmd("INFO").arg("replication"), t)
            .map_err(|e| (n.clone(), Role::Server, format!("INFO: {e}")))?;
        let field = |k: &str| {
            info.lines()
                .find_map(|l| l.trim().strip_prefix(&format!("{k}:")).map(str::to_string))
                .unwrap_or_default()
        };
        let role = field("role");
        if addr == primary {
            if role != "master" {
                return Err((
                    n.clone(),
                    Role::Server,
                    format!("the Sentinels name it primary but it is a {role}"),
                ));
            }
            continue;
        }
        let source = format!("{}:{}", field("master_host"), field("master_port"));
        let wanted = format!("{}:{}", primary.ip(), primary.port());
        if role != "slave" || source != wanted || field("master_link_status") != "up" {
            return Err((
                n.clone(),
                Role::Server,
                format!(
                    "not yet a replica of {primary} with its link up (role {role}, primary {source}, link {})",
                    field("master_link_status")
                ),
            ));
        }
    }
    Ok(())
}
