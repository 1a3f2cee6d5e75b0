//! A private network for a local cluster: one namespace per node on a bridge.
//!
//! ```text
//!   controller (root namespace) ── bridge flbr<k>  198.18.<k>.1
//!                                     ├── veth ── ns fl<k>-n1  eth0 198.18.<k>.11
//!                                     ├── veth ── ns fl<k>-n2  eth0 198.18.<k>.12
//!                                     └── ...
//! ```
//!
//! Each cluster takes one *slot* `k`: a /24 of the configured subnet (by
//! default 198.18.0.0/15, reserved for benchmarking and never routed) and the
//! names `flbr<k>`, `fl<k>v<i>` and `fl<k>-<node>`. The slot is claimed by
//! creating a state file `slot-<k>.json` exclusively in the state directory
//! (`/run/faultline/clusters`, or `$FAULTLINE_STATE_DIR`) holding the owner's
//! pid. Several tests can therefore run side by side, and a run whose
//! controller died (even by SIGKILL) is recognised by its dead owner: the next
//! run, or `faultline heal`, kills its processes and deletes its namespaces,
//! links and rules.
//!
//! Partition rules live inside the node namespaces, so deleting a namespace
//! also removes every rule faultline put there.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::os::pid_alive;

/// The subnet nodes get addresses from unless told otherwise.
pub const DEFAULT_SUBNET: &str = "198.18.0.0/15";

/// An IPv4 subnet cut into /24 slots, one per cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    /// Network address.
    pub base: Ipv4Addr,
    /// Prefix length (at most 24).
    pub prefix: u8,
}

impl std::str::FromStr for Subnet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("invalid subnet {s:?}: expected an IPv4 CIDR like 198.18.0.0/15 with a prefix of at most /24")
        };
        let (ip, len) = s.split_once('/').ok_or_else(bad)?;
        let base: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let prefix: u8 = len.parse().map_err(|_| bad())?;
        if !(8..=24).contains(&prefix) {
            return Err(bad());
        }
        let mask = u32::MAX << (32 - prefix);
        Ok(Subnet {
            base: Ipv4Addr::from(u32::from(base) & mask),
            prefix,
        })
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

impl Subnet {
    /// How many /24 slots it holds.
    pub fn slots(&self) -> u32 {
        1 << (24 - self.prefix)
    }

    /// Host number `host` (0..=255) of slot `k`.
    pub fn addr(&self, slot: u32, host: u8) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + (slot << 8) + host as u32)
    }
}

/// One node's place in the local network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalNode {
    /// Node name, e.g. `n1`.
    pub name: String,
    /// Namespace name, e.g. `fl3-n1`.
    pub netns: String,
    /// Host side of its veth pair.
    pub veth: String,
    /// Its address.
    pub ip: Ipv4Addr,
}

/// What the state file records, so a later process can clean up.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SlotState {
    owner_pid: u32,
    slot: u32,
    bridge: String,
    nodes: Vec<LocalNode>,
    run_dir: Option<PathBuf>,
}

/// A live local network; torn down on [`LocalNetwork::teardown`] or drop.
#[derive(Debug)]
pub struct LocalNetwork {
    /// The slot this cluster holds.
    pub slot: u32,
    /// The bridge's name.
    pub bridge: String,
    /// The controller's address on the bridge.
    pub gateway: Ipv4Addr,
    /// The nodes, in order.
    pub nodes: Vec<LocalNode>,
    state_file: PathBuf,
    torn_down: bool,
}

/// Where slot files live.
pub fn state_dir() -> PathBuf {
    std::env::var_os("FAULTLINE_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/faultline/clusters"))
}

fn ip(args: &[&str]) -> Result<String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .with_context(|| format!("running `ip {}` (is iproute2 installed?)", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn valid_node_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 8 && n.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl LocalNetwork {
    /// Claims a free slot and builds the network for `node_names`. Stale slots
    /// of dead controllers met on the way are cleaned up first.
    pub fn create(node_names: &[String], subnet: Subnet, run_dir: &Path) -> Result<Self> {
        if node_names.is_empty() || node_names.len() > 200 {
            bail!(
                "a local cluster needs 1 to 200 nodes, got {}",
                node_names.len()
            );
        }
        if let Some(bad) = node_names.iter().find(|n| !valid_node_name(n)) {
            bail!("node name {bad:?} must be 1-8 ASCII letters or digits");
        }
        let dir = state_dir();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating state directory {}", dir.display()))?;
        // Allocation and stale cleanup happen under one lock, so two runs
        // starting together never clean or claim the same slot.
        let _lock = lock_state_dir(&dir)?;
        let slots = subnet.slots();
        let start = std::process::id() % slots;
        for i in 0..slots {
            let slot = (start + i) % slots;
            let file = dir.join(format!("slot-{slot}.json"));
            if file.exists() {
                match read_state(&file) {
                    Some(st) if pid_alive(st.owner_pid) => continue,
                    _ => {
                        tracing::info!("cleaning up slot {slot} left by a dead run");
                        clean_slot(slot, &file);
                    }
                }
            }
            let bridge = format!("flbr{slot}");
            let nodes: Vec<LocalNode> = node_names
                .iter()
                .enumerate()
                .map(|(i, name)| LocalNode {
                    name: name.clone(),
                    netns: format!("fl{slot}-{name}"),
                    veth: format!("fl{slot}v{}", i + 1),
                    ip: subnet.addr(slot, 10 + i as u8 + 1),
                })
                .collect();
            let state = SlotState {
                owner_pid: std::process::id(),
                slot,
                bridge: bridge.clone(),
                nodes: nodes.clone(),
                run_dir: Some(run_dir.to_path_buf()),
            };
            let claimed = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&file);
            let Ok(f) = claimed else { continue };
            serde_json::to_writer_pretty(f, &state)?;
            // Orphans of a run that died before writing its state file.
            clean_links(slot);
            let mut net = LocalNetwork {
                slot,
                bridge,
                gateway: subnet.addr(slot, 1),
                nodes,
                state_file: file,
                torn_down: false,
            };
            net.build(subnet).inspect_err(|_| {
                let _ = net.teardown();
            })?;
            return Ok(net);
        }
        bail!(
            "all {slots} cluster slots of subnet {subnet} are in use by live faultline runs; \
             wait for them, or pass a different --subnet"
        )
    }

    fn build(&mut self, subnet: Subnet) -> Result<()> {
        let gw = format!("{}/24", self.gateway);
        let _ = subnet;
        ip(&["link", "add", &self.bridge, "type", "bridge"])?;
        ip(&["addr", "add", &gw, "dev", &self.bridge])?;
        ip(&["link", "set", &self.bridge, "up"])?;
        for n in &self.nodes {
            ip(&["netns", "add", &n.netns])?;
            ip(&[
                "link", "add", &n.veth, "type", "veth", "peer", "name", "eth0", "netns", &n.netns,
            ])?;
            ip(&["link", "set", &n.veth, "master", &self.bridge, "up"])?;
            let addr = format!("{}/24", n.ip);
            ip(&["-n", &n.netns, "addr", "add", &addr, "dev", "eth0"])?;
            ip(&["-n", &n.netns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &n.netns, "link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    /// `(node, namespace)` pairs, for [`super::local::LocalControl`].
    pub fn namespaces(&self) -> Vec<(String, String)> {
        self.nodes
            .iter()
            .map(|n| (n.name.clone(), n.netns.clone()))
            .collect()
    }

    /// Kills whatever still runs in the namespaces, deletes them, the bridge
    /// and the state file. Safe to call twice.
    pub fn teardown(&mut self) -> Result<()> {
        if self.torn_down {
            return Ok(());
        }
        self.torn_down = true;
        clean_slot(self.slot, &self.state_file);
        Ok(())
    }
}

impl Drop for LocalNetwork {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}

/// Takes the state directory's exclusive lock (released on drop).
fn lock_state_dir(dir: &Path) -> Result<std::fs::File> {
    let path = dir.join(".lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening lock file {}", path.display()))?;
    f.lock()
        .with_context(|| format!("locking {}", path.display()))?;
    Ok(f)
}

fn read_state(file: &Path) -> Option<SlotState> {
    serde_json::from_slice(&std::fs::read(file).ok()?).ok()
}

/// Kills processes in, and deletes, every namespace and link of `slot`, then
/// removes its state file.
fn clean_slot(slot: u32, file: &Path) {
    let prefix = format!("fl{slot}-");
    for ns in list_netns().into_iter().filter(|n| n.starts_with(&prefix)) {
        kill_netns_processes(&ns);
        let _ = ip(&["netns", "del", &ns]);
    }
    clean_links(slot);
    let _ = std::fs::remove_file(file);
}

fn clean_links(slot: u32) {
    let _ = ip(&["link", "del", &format!("flbr{slot}")]);
    // Host-side veths vanish with their namespace peers; sweep stragglers.
    if let Ok(out) = ip(&["-o", "link", "show"]) {
        let prefix = format!("fl{slot}v");
        for name in out
            .lines()
            .filter_map(|l| l.split(':').nth(1))
            .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
            .filter(|n| n.starts_with(&prefix))
        {
            let _ = ip(&["link", "del", &name]);
        }
    }
}

fn list_netns() -> Vec<String> {
    ip(&["netns", "list"])
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

fn kill_netns_processes(ns: &str) {
    if let Ok(pids) = ip(&["netns", "pids", ns]) {
        for pid in pids
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// What [`heal_stale`] cleaned.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HealReport {
    /// Slots whose controller had died.
    pub slots: Vec<u32>,
    /// Namespaces with no state file at all.
    pub orphans: Vec<String>,
    /// Slots still owned by a live run, left alone.
    pub live: Vec<u32>,
    /// Result folders of the dead runs, whose fault journals say what else
    /// to undo.
    pub run_dirs: Vec<PathBuf>,
}

/// Cleans up after dead runs: every slot whose owner is gone, and any
/// faultline namespace or bridge no state file accounts for. Live runs are
/// left alone.
pub fn heal_stale() -> HealReport {
    let mut report = HealReport::default();
    let dir = state_dir();
    let _ = std::fs::create_dir_all(&dir);
    let _lock = lock_state_dir(&dir).ok();
    let mut owned = std::collections::BTreeSet::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let path = e.path();
            let Some(slot) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("slot-"))
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            match read_state(&path) {
                Some(st) if pid_alive(st.owner_pid) => {
                    owned.insert(slot);
                    report.live.push(slot);
                }
                state => {
                    if let Some(d) = state.and_then(|s| s.run_dir) {
                        report.run_dirs.push(d);
                    }
                    clean_slot(slot, &path);
                    report.slots.push(slot);
                }
            }
        }
    }
    for ns in list_netns() {
        let Some(slot) = ns
            .strip_prefix("fl")
            .and_then(|r| r.split_once('-'))
            .and_then(|(k, _)| k.parse::<u32>().ok())
        else {
            continue;
        };
        if !owned.contains(&slot) {
            kill_netns_processes(&ns);
            let _ = ip(&["netns", "del", &ns]);
            clean_links(slot);
            report.orphans.push(ns);
        }
    }
    report.slots.sort();
    report.live.sort();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_parses_and_cuts_slots() {
        let s: Subnet = DEFAULT_SUBNET.parse().unwrap();
        assert_eq!(s.slots(), 512);
        assert_eq!(s.addr(0, 11).to_string(), "198.18.0.11");
        assert_eq!(s.addr(257, 1).to_string(), "198.19.1.1");
        let t: Subnet = "10.9.8.7/24".parse().unwrap();
        assert_eq!(t.base.to_string(), "10.9.8.0");
        assert_eq!(t.slots(), 1);
        assert!("10.0.0.0/28".parse::<Subnet>().is_err());
        assert!("nonsense"
            .parse::<Subnet>()
            .unwrap_err()
            .contains("198.18.0.0/15"));
    }

    #[test]
    fn node_names_fit_interface_limits() {
        assert!(valid_node_name("n1"));
        assert!(!valid_node_name("n1;rm"));
        assert!(!valid_node_name("averyl0ngname"));
        // Longest veth name must fit Linux's 15-byte limit.
        assert!(format!("fl{}v{}", 511, 200).len() <= 15);
    }
}
