//! `faultline serve`: the results directory over HTTP, for this machine
//! only.
//!
//! Reports are self-contained files, but links between them (the index's
//! links to each run, a report's links to its node logs) are easier to
//! follow over HTTP than from a file manager, and a remote machine's results
//! can be looked at through an SSH tunnel. The server binds 127.0.0.1 only,
//! never every interface: results hold the store's data and the commands
//! run. Files are served by tower-http's `ServeDir`, which refuses paths
//! that climb out of the directory (`..`), and `/` is the index page,
//! regenerated at start.

use anyhow::{Context, Result};
use axum::Router;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::path::PathBuf;
use tokio::net::TcpListener;
use tower_http::services::ServeDir;

/// The port `faultline serve` listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 8080;

/// The routes: every file under `results`, and `index.html` for a
/// directory (so `/` is the index).
pub fn router(results: &Path) -> Router {
    Router::new().fallback_service(ServeDir::new(results).append_index_html_on_directories(true))
}

/// Listens on 127.0.0.1:`port` (0: a free port the system picks).
pub async fn bind(port: u16) -> Result<TcpListener> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))
}

/// Serves `results` on `listener` until `shutdown` completes.
pub async fn serve<F>(results: &Path, listener: TcpListener, shutdown: F) -> Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    axum::serve(listener, router(results))
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP")
}

/// `faultline serve`: regenerates the index, prints the URL and serves
/// until Ctrl-C or SIGTERM. Returns the exit code.
pub fn run(results: &Path, port: u16) -> Result<i32> {
    if !results.is_dir() {
        return Err(crate::UsageError(format!(
            "--results {}: no such directory (runs are written to results/ by default)",
            results.display()
        ))
        .into());
    }
    if let Err(e) = crate::artifacts::index::write(results) {
        eprintln!("faultline: warning: could not regenerate the index: {e:#}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = bind(port).await?;
        let addr = listener.local_addr()?;
        println!("http://{addr}/");
        eprintln!(
            "faultline: serving {} at http://{addr}/ (Ctrl-C stops)",
            results.display()
        );
        serve(results, listener, crate::run::signals::stop_requested()).await
    })?;
    Ok(crate::exit::VALID)
}

/// `faultline serve` flags.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Results directory.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Port on 127.0.0.1; 0 picks a free one (the URL is printed).
    #[arg(long, default_value_t = crate::commands::serve::DEFAULT_PORT)]
    pub port: u16,
}

/// Runs `faultline serve`.
pub fn main(args: &ServeArgs) -> anyhow::Result<i32> {
    run(&args.results, args.port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Sends `GET target` as written (no client-side normalisation of
    /// `..`) and returns the status line and body.
    async fn raw_get(addr: SocketAddr, target: &str) -> (String, String) {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
        let mut buf = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
            .await
            .expect("response in time")
            .unwrap();
        let text = String::from_utf8_lossy(&buf).to_string();
        let status = text.lines().next().unwrap_or_default().to_string();
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    #[tokio::test]
    async fn serves_the_index_and_reports_on_loopback_and_nothing_outside() {
        let tmp = tempfile::tempdir().unwrap();
        let results = tmp.path().join("results");
        let run = results.join("set-crdt").join("20261124T100000.000");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(
            run.join("results.json"),
            r#"{"valid": true, "checkers": [], "op_count": 0, "interrupted": false}"#,
        )
        .unwrap();
        std::fs::write(
            run.join("report.html"),
            "<html>the report of set-crdt</html>",
        )
        .unwrap();
        std::fs::write(tmp.path().join("secret.txt"), "outside the results").unwrap();
        crate::artifacts::index::write(&results).unwrap();

        let listener = bind(0).await.unwrap();
        let addr = listener.local_addr().unwrap();
        assert_eq!(addr.ip(), Ipv4Addr::LOCALHOST);
        assert_ne!(addr.port(), 0);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let root = results.clone();
        let server = tokio::spawn(async move {
            serve(&root, listener, async {
                let _ = stopped.await;
            })
            .await
        });

        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let index = client.get(format!("http://{addr}/")).send().await.unwrap();
        assert_eq!(index.status(), 200);
        assert!(index.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let body = index.text().await.unwrap();
        assert!(
            body.contains("faultline results") && body.contains(">set-crdt</th>"),
            "{body}"
        );
        let report = client
            .get(format!(
                "http://{addr}/set-crdt/20261124T100000.000/report.html"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(report.status(), 200);
        assert_eq!(
            report.text().await.unwrap(),
            "<html>the report of set-crdt</html>"
        );
        let missing = client
            .get(format!("http://{addr}/nope.html"))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);

        // Path traversal, sent raw so no client tidies the `..` away.
        let (status, body) = raw_get(addr, "/set-crdt/20261124T100000.000/report.html").await;
        assert!(status.contains(" 200 "), "{status}");
        assert!(body.contains("the report"), "the raw client works: {body}");
        for target in [
            "/../../etc/passwd",
            "/../secret.txt",
            "/set-crdt/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/..%2fsecret.txt",
            "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        ] {
            let (status, body) = raw_get(addr, target).await;
            assert!(
                status.starts_with("HTTP/1.1 4"),
                "{target} must be refused: {status}"
            );
            assert!(
                !body.contains("outside the results") && !body.contains("root:"),
                "{target} leaked: {body}"
            );
        }

        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("the server stops when told")
            .unwrap()
            .unwrap();
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "nothing listens after the stop"
        );
    }
}
