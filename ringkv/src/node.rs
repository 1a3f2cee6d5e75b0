//! Wiring of one ringkv node: bind the listener, mount the public and
//! internal routers on it, and serve until a shutdown signal arrives.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::config::Config;
use crate::coordinator::Coordinator;
use crate::storage::Store;
use crate::{api, peer_api};

/// How long in-flight requests get to finish after a shutdown signal before
/// the server stops anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why a node could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The HTTP client for replica RPC could not be built.
    #[error("building replica client: {0}")]
    Client(#[from] reqwest::Error),
    /// The data directory could not be opened or read.
    #[error("{0}")]
    Storage(#[from] crate::durable::DurableError),
    /// The listen address could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The configured listen address.
        addr: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

/// A node whose listener is bound but which is not serving yet.
#[derive(Debug)]
pub struct Node {
    coordinator: Arc<Coordinator>,
    listener: TcpListener,
}

impl Node {
    /// Builds the coordinator and binds `config.listen`.
    pub async fn bind(config: Config) -> Result<Node, NodeError> {
        let listen = config.listen.clone();
        let store = match &config.data_dir {
            Some(dir) => Store::open(dir, config.fsync)?,
            None => Store::new(),
        };
        let coordinator = Arc::new(Coordinator::with_store(config, store)?);
        let listener = TcpListener::bind(&listen)
            .await
            .map_err(|source| NodeError::Bind {
                addr: listen,
                source,
            })?;
        Ok(Node {
            coordinator,
            listener,
        })
    }

    /// The address actually bound (useful when listening on port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, NodeError> {
        self.listener.local_addr().map_err(NodeError::Serve)
    }

    /// Serves the public and internal API until `shutdown` completes, then
    /// drains in-flight requests for at most [`SHUTDOWN_GRACE`].
    pub async fn run<F>(self, shutdown: F) -> Result<(), NodeError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let addr = self.local_addr()?;
        let name = self.coordinator.config().node.clone();
        let background = spawn_background(&self.coordinator);
        let coordinator = self.coordinator.clone();
        let app = api::router(self.coordinator.clone()).merge(peer_api::router(self.coordinator));
        info!("ringkv {name} listening on {addr}");

        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            shutdown.await;
            let _ = stopping_tx.send(());
        };
        let server = axum::serve(self.listener, app).with_graceful_shutdown(signal);
        let grace_expired = async move {
            if stopping_rx.await.is_ok() {
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            result = server => result.map_err(NodeError::Serve)?,
            () = grace_expired => warn!("in-flight requests still running after {SHUTDOWN_GRACE:?}; stopping anyway"),
        }
        for task in background {
            task.abort();
        }
        coordinator.store().close();
        info!("ringkv {name} stopped");
        Ok(())
    }
}

/// Starts the periodic gossip, handoff and anti-entropy loops (each off when its interval
/// is zero).
fn spawn_background(coord: &Arc<Coordinator>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let gossip = coord.config().gossip_interval;
    if !gossip.is_zero() {
        let c = coord.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(gossip);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                c.gossip_once().await;
            }
        }));
    }
    let handoff = coord.config().handoff_interval;
    if !handoff.is_zero() {
        let c = coord.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(handoff);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                c.handoff_round().await;
            }
        }));
    }
    // The node's notion of time, in its log: what LWW timestamps and a
    // skewed clock look like from inside.
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            info!(
                wall_clock_ms = crate::storage::wall_clock_nanos() / 1_000_000,
                "clock"
            );
        }
    }));
    let aae = coord.config().anti_entropy_interval;
    if !aae.is_zero() {
        let c = coord.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(aae);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                c.anti_entropy_round().await;
            }
        }));
    }
    tasks
}
