//! Ctrl-C and SIGTERM, as one future: what a run and `faultline serve`
//! wait on to stop cleanly.

/// Completes on the next Ctrl-C (SIGINT) or SIGTERM. Each call waits for a
/// new signal, so a caller can tell a first interrupt from a second.
pub async fn stop_requested() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let term = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
}
