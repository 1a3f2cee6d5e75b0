//! One Redis command, on its own connection, bounded in time.
//!
//! The controller asks servers and Sentinels few questions (PING, INFO
//! replication, SENTINEL MASTER, the primary's address), each while the
//! cluster starts or while a fault may have cut the node off; so each
//! question opens a fresh connection and bounds the connect, the write and
//! the read by one timeout, and the answer or the error comes back as a
//! plain value or a one-line message.

use std::net::SocketAddr;
use std::time::Duration;

/// Runs one command on the server at `addr` (a fresh connection, each step
/// bounded by `timeout`).
pub(super) fn query<T: redis::FromRedisValue>(
    addr: SocketAddr,
    cmd: &redis::Cmd,
    timeout: Duration,
) -> std::result::Result<T, String> {
    let client = redis::Client::open(format!("redis://{addr}/")).map_err(|e| e.to_string())?;
    let mut conn = client
        .get_connection_with_timeout(timeout)
        .map_err(|e| e.to_string())?;
    conn.set_read_timeout(Some(timeout))
        .and_then(|_| conn.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    cmd.query(&mut conn).map_err(|e| e.to_string())
}
