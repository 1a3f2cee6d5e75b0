//! Reading every key's replicas in rounds until they agree: how the run
//! measures the time the store takes to converge.
//!
//! After the heal, an eventually consistent store needs some time before
//! every replica of every key holds the same value: anti-entropy, read
//! repair or hinted handoff must carry what a replica missed. The final
//! phase watches it happen: from the heal on, each key's replicas are read
//! *locally* (`read-local` ops, one process per node, the nodes in parallel)
//! in rounds a few tens of milliseconds apart. The first round reads every
//! key; each later round reads again only the keys whose replicas did not
//! all answer the same in their last round, so the history grows with the
//! disagreement, not with the wait. Rounds stop when every key agrees or
//! the window (the quiescence, `--quiesce`) is over, whichever comes first.
//!
//! The convergence checker then turns the rounds into distributions: per key
//! the time from the heal until its replicas agreed for good, and per
//! replica the time until it held the final value. A time is only as fine
//! as the rounds: the gap between them (25 ms, longer for windows over 5 s:
//! at most [`MAX_ROUNDS`] rounds) bounds how late a read can be.
//!
//! The same rounds, after the final reads, confirm that the replicas still
//! agree (or wait up to `--convergence-timeout` for them to).

use crate::run::history_log::{Entry, HistoryLog};
use checkers::{OpType, Process};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use workloads::ringkv::RequestError;
use workloads::LocalRead;

/// The shortest gap between the starts of two rounds.
pub const MIN_GAP: Duration = Duration::from_millis(25);

/// The most rounds in one window: longer windows space them further apart.
pub const MAX_ROUNDS: u32 = 200;

/// Each key with the nodes that hold its replicas.
pub struct Replicas {
    keys: Vec<(String, Vec<usize>)>,
    clients: Vec<(String, Arc<dyn LocalRead>)>,
    first_process: u64,
    timeout: Duration,
}

impl Replicas {
    /// Asks the nodes for each key's replicas (its preference list; the
    /// first node that answers decides). Replicas read as processes
    /// `first_process + i`, `i` the node's place in `clients`. A key no node
    /// could place is left out; a replica that is not among `clients` is
    /// kept, so the key can never agree. A read that takes longer than
    /// `timeout` fails.
    pub async fn find(
        keys: &[String],
        clients: &[(String, Arc<dyn LocalRead>)],
        first_process: u64,
        timeout: Duration,
    ) -> Replicas {
        let mut owned = Vec::new();
        for key in keys {
            for (_, c) in clients {
                if let Ok(Ok(pl)) = tokio::time::timeout(timeout, c.preflist(key)).await {
                    let ids = pl
                        .iter()
                        .map(|o| {
                            clients
                                .iter()
                                .position(|(n, _)| n == o)
                                .unwrap_or(usize::MAX)
                        })
                        .collect();
                    owned.push((key.clone(), ids));
                    break;
                }
            }
        }
        Replicas {
            keys: owned,
            clients: clients.to_vec(),
            first_process,
            timeout,
        }
    }

    /// True when there is nothing to read.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Reads in rounds until every key's replicas agree or `window` is over;
    /// true if they agreed. The first round reads every key, the others
    /// only the keys that did not agree in their last round.
    pub async fn read_until_agreed(&self, log: &Arc<HistoryLog>, window: Duration) -> bool {
        let start = Instant::now();
        let deadline = start + window;
        let gap = gap_for(window);
        let mut pending: Vec<usize> = (0..self.keys.len()).collect();
        let mut round = 0u32;
        loop {
            let round_start = Instant::now();
            pending = self.round(&pending, log).await;
            round += 1;
            if pending.is_empty() {
                return true;
            }
            let next = round_start + gap;
            if next >= deadline || round >= MAX_ROUNDS {
                return false;
            }
            tokio::time::sleep_until(next).await;
        }
    }

    /// Reads the replicas of the keys `which` (indices into `keys`), each
    /// node its own keys in order, the nodes in parallel; returns the keys
    /// whose replicas did not all answer the same value.
    async fn round(&self, which: &[usize], log: &Arc<HistoryLog>) -> Vec<usize> {
        // Per node, the keys it reads.
        let mut per_node: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        let mut unplaced = Vec::new();
        for &k in which {
            for &node in &self.keys[k].1 {
                if node == usize::MAX {
                    unplaced.push(k);
                } else {
                    per_node.entry(node).or_default().push(k);
                }
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (node, keys) in per_node {
            let (name, client) = self.clients[node].clone();
            let process = Process::Client(self.first_process + node as u64);
            let names: Vec<(usize, String)> = keys
                .into_iter()
                .map(|k| (k, self.keys[k].0.clone()))
                .collect();
            let log = log.clone();
            let timeout = self.timeout;
            tasks.spawn(async move {
                let mut seen = Vec::with_capacity(names.len());
                for (k, key) in names {
                    let read = ReadOne {
                        key: &key,
                        node: &name,
                        process,
                        timeout,
                    };
                    let v = read.run(client.as_ref(), &log).await;
                    seen.push((k, v));
                }
                seen
            });
        }
        // Per key, the values read (None: a read failed).
        let mut values: BTreeMap<usize, Vec<Option<Value>>> = BTreeMap::new();
        while let Some(done) = tasks.join_next().await {
            let Ok(seen) = done else {
                continue;
            };
            for (k, v) in seen {
                values.entry(k).or_default().push(v);
            }
        }
        let mut disagree: Vec<usize> = which
            .iter()
            .copied()
            .filter(|k| {
                let Some(vs) = values.get(k) else {
                    return true;
                };
                vs.len() != self.keys[*k].1.len()
                    || vs.iter().any(Option::is_none)
                    || vs.windows(2).any(|w| w[0] != w[1])
            })
            .collect();
        disagree.extend(unplaced);
        disagree.sort_unstable();
        disagree.dedup();
        disagree
    }
}

/// The gap between the starts of rounds in a window: [`MIN_GAP`], or
/// longer so that the window holds at most [`MAX_ROUNDS`] rounds.
pub fn gap_for(window: Duration) -> Duration {
    MIN_GAP.max(window / MAX_ROUNDS)
}

/// One local read of one key on one node.
struct ReadOne<'a> {
    key: &'a str,
    node: &'a str,
    process: Process,
    timeout: Duration,
}

impl ReadOne<'_> {
    /// Performs and records the read: the value, or None if it failed.
    async fn run(&self, client: &dyn LocalRead, log: &HistoryLog) -> Option<Value> {
        let invoke = Entry {
            kind: OpType::Invoke,
            process: self.process,
            f: "read-local".into(),
            value: json!([self.key, null]),
            node: Some(self.node.to_string()),
            error: None,
        };
        log.record(invoke.clone());
        let read = match tokio::time::timeout(self.timeout, client.read_local(self.key)).await {
            Ok(r) => r,
            Err(_) => Err(RequestError::Indeterminate("timeout (harness)".into())),
        };
        let key = self.key;
        match read {
            Ok(v) => {
                log.record(Entry {
                    kind: OpType::Ok,
                    value: json!([key, v]),
                    ..invoke
                });
                Some(v)
            }
            Err(RequestError::Definite(e)) | Err(RequestError::Indeterminate(e)) => {
                // A read changes nothing: it failed, whatever the error.
                log.record(Entry {
                    kind: OpType::Fail,
                    error: Some(e),
                    ..invoke
                });
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_are_25_ms_apart_and_at_most_200_per_window() {
        assert_eq!(gap_for(Duration::from_secs(1)), MIN_GAP);
        assert_eq!(gap_for(Duration::from_secs(5)), MIN_GAP);
        assert_eq!(gap_for(Duration::from_secs(30)), Duration::from_millis(150));
    }
}
