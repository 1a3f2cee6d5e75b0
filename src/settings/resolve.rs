//! From flags (and a `--config` file) to a [`TestConfig`]: the one place
//! where a test's settings are checked against each other and against the
//! store (ripgrep's `hiargs`). A setting that cannot work is a
//! [`UsageError`] naming the flag, before anything starts.

use super::flags::{load_schedule, parse_intervals, TestArgs};
use super::{ClockMode, Conflict, Replication, StoreKind, TestConfig};
use crate::cluster::control::netns::{self};
use crate::UsageError;
use clap::parser::ValueSource;
use clap::{ArgMatches, Parser};
use std::path::PathBuf;

/// Turns flags into a test configuration, rejecting what cannot work.
pub fn test_config(a: TestArgs) -> Result<TestConfig, UsageError> {
    let remote = match (&a.nodes, &a.nodes_file) {
        (crate::cluster::nodes::NodesArg::Count(_), None) => None,
        (crate::cluster::nodes::NodesArg::Hosts(h), None) => {
            Some(crate::cluster::nodes::node_list(Some(h), None)?)
        }
        (_, Some(f)) => Some(crate::cluster::nodes::node_list(None, Some(f))?),
    };
    let remote = match remote {
        None => None,
        Some(list) => Some(crate::cluster::nodes::RemoteNodes::from_setup(
            &a.login.resolve(list)?,
            a.leave_db_running,
        )),
    };
    let node_count: u16 = match (&remote, &a.nodes) {
        (Some(r), _) => r.hosts.len() as u16,
        (None, crate::cluster::nodes::NodesArg::Count(n)) => *n,
        (None, _) => unreachable!("a host list is remote"),
    };
    let kind = StoreKind::parse(&a.store).map_err(UsageError)?;
    let store = crate::stores::open(&kind)?;
    let workload =
        workloads::Workload::parse(&a.workload).map_err(|e| UsageError(e.to_string()))?;
    let client = store.validate(workload, a.client.as_deref())?;
    let nemesis = nemeses::parse_kinds(&a.nemesis).map_err(|e| UsageError(e.to_string()))?;
    if !nemesis.is_empty() && node_count < 2 {
        return Err(UsageError(format!(
            "--nemesis {} needs at least 2 nodes (--nodes {})",
            a.nemesis, a.nodes
        )));
    }
    let n = match a.n {
        Some(n) if n as u16 > node_count => {
            return Err(UsageError(format!(
                "--n {n} must be at most the number of nodes (--nodes {})",
                a.nodes
            )))
        }
        Some(n) => n,
        None => 3.min(node_count as u8),
    };
    if a.r == 0 || a.r > n || a.w == 0 || a.w > n {
        return Err(UsageError(format!(
            "--r {} / --w {} must be between 1 and N={n}",
            a.r, a.w
        )));
    }
    if !(a.rate > 0.0 && a.rate.is_finite()) {
        return Err(UsageError(format!(
            "--rate {} must be a positive number",
            a.rate
        )));
    }
    let (default_interval, per_kind) = parse_intervals(&a.nemesis_interval).map_err(UsageError)?;
    if !(0.0..=1.0).contains(&a.loss_probability) {
        return Err(UsageError(format!(
            "--loss-probability {} must be between 0 and 1",
            a.loss_probability
        )));
    }
    let node_names: Vec<String> = (1..=node_count).map(|i| format!("n{i}")).collect();
    if let Some(spec) = &a.partition {
        nemeses::partition::Partition::explicit(spec, &node_names, a.one_way)
            .map_err(|e| UsageError(format!("--partition: {e}")))?;
    }
    let (nemesis, fixed_schedule) = match &a.nemesis_schedule {
        None => (nemesis, None),
        Some(path) => {
            let events = load_schedule(path, &node_names)?;
            let mut kinds: Vec<nemeses::Kind> = Vec::new();
            for e in &events {
                if !kinds.contains(&e.kind) {
                    kinds.push(e.kind);
                }
            }
            (kinds, Some(events))
        }
    };
    let nemesis_options = nemeses::schedule::Options {
        interval_ms: per_kind
            .into_iter()
            .map(|(k, v)| (k, (v * 1000.0) as u64))
            .collect(),
        default_interval_ms: (default_interval * 1000.0) as u64,
        loss_probability: a.loss_probability,
        max_skew_ms: (a.max_skew * 1000.0) as i64,
        partition: a.partition.clone(),
        one_way: a.one_way,
        targets: nemeses::targets::TargetMode::parse(&a.nemesis_targets).ok_or_else(|| {
            UsageError(format!(
                "--nemesis-targets {:?}: expected one of {}",
                a.nemesis_targets,
                nemeses::targets::TargetMode::NAMES
            ))
        })?,
    };
    a.subnet.parse::<netns::Subnet>().map_err(UsageError)?;
    if !crate::settings::FSYNC_POLICIES.contains(&a.fsync.as_str()) {
        return Err(UsageError(format!(
            "--fsync {:?}: expected one of {}",
            a.fsync,
            crate::settings::FSYNC_POLICIES.join(", ")
        )));
    }
    let conflict = Conflict::parse(&a.conflict).ok_or_else(|| {
        UsageError(format!(
            "--conflict {:?}: expected one of {}",
            a.conflict,
            Conflict::NAMES
        ))
    })?;
    if a.workload == "session" && conflict != Conflict::Lww {
        return Err(UsageError(format!(
            "--workload session orders each key's values by the store's last-write-wins timestamps, which --conflict {} does not have: use --conflict lww",
            conflict.name()
        )));
    }
    let seed = a.seed.unwrap_or_else(rand::random);
    let concurrency = a
        .concurrency
        .unwrap_or(crate::settings::concurrency::Concurrency::PerNode(2))
        .workers(node_count as usize)
        .map_err(UsageError)?;
    let name = a.name.unwrap_or_else(|| match (&kind, conflict) {
        (StoreKind::Ringkv, Conflict::Lww) => format!("{}-{client}", a.workload),
        (StoreKind::Ringkv, c) => format!("{}-{client}-{}", a.workload, c.name()),
        (_, _) => format!("{}-{}-{client}", store.name(), a.workload),
    });
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(UsageError(format!(
            "--name {name:?} must be a plain folder name"
        )));
    }
    let mut command = format!(
        "faultline test --workload {} --client {client} --nemesis {} --nemesis-interval {} --time-limit {} --seed {seed} --nodes {} --concurrency {concurrency} --rate {} --keys {} --quiesce {} --r {} --w {} --conflict {}",
        a.workload,
        if nemesis.is_empty() { "none".to_string() } else { nemeses::names(&nemesis) },
        a.nemesis_interval.replace(' ', ""),
        a.time_limit,
        match &remote {
            Some(r) => r.hosts.join(","),
            None => node_count.to_string(),
        },
        a.rate,
        a.keys,
        a.quiesce,
        a.r,
        a.w,
        conflict.name()
    );
    if kind != StoreKind::Ringkv {
        command.push_str(&format!(" --store '{kind}'"));
    }
    let store_params = parse_store_params(&a.store_param)?;
    for (k, v) in &store_params {
        command.push_str(&format!(" --store-param '{k}={v}'"));
    }
    if a.values != workloads::register::DEFAULT_VALUES {
        command.push_str(&format!(" --values {}", a.values));
    }
    if let Some(n) = a.n {
        command.push_str(&format!(" --n {n}"));
    }
    if nemesis.contains(&nemeses::Kind::Loss) {
        command.push_str(&format!(" --loss-probability {}", a.loss_probability));
    }
    if nemesis.contains(&nemeses::Kind::Clock) {
        command.push_str(&format!(" --max-skew {}", a.max_skew));
    }
    if a.clock_mode == ClockMode::Date {
        if remote.is_none() {
            return Err(UsageError(
                "--clock-mode date moves the whole host's clock with `date -s`: only for SSH nodes (--nodes HOSTS); local nodes move their clocks through libfaketime".into(),
            ));
        }
        command.push_str(" --clock-mode date");
    }
    if let Some(p) = &a.partition {
        command.push_str(&format!(" --partition '{p}'"));
    }
    if let Some(p) = &a.nemesis_schedule {
        command.push_str(&format!(" --nemesis-schedule '{}'", p.display()));
    }
    if a.one_way {
        command.push_str(" --one-way");
    }
    if !nemesis_options.targets.is_nodes() {
        command.push_str(&format!(
            " --nemesis-targets {}",
            nemesis_options.targets.name()
        ));
    }
    if a.sloppy_quorum {
        command.push_str(" --sloppy-quorum");
    }
    if a.no_read_repair {
        command.push_str(" --no-read-repair");
    }
    command.push_str(&format!(
        " --anti-entropy {} --fsync {}",
        a.anti_entropy, a.fsync
    ));
    if let Some(r) = &remote {
        command.push_str(&format!(
            " --username {} --remote-dir '{}'",
            r.username,
            r.remote_dir.display()
        ));
        if let Some(k) = &r.private_key {
            command.push_str(&format!(" --ssh-private-key '{}'", k.display()));
        }
        match &r.known_hosts {
            Some(f) => command.push_str(&format!(" --known-hosts '{}'", f.display())),
            None => command.push_str(" --no-strict-host-key-checking"),
        }
        if r.leave_db_running {
            command.push_str(" --leave-db-running");
        }
    }
    let cfg = TestConfig {
        store_name: match kind {
            StoreKind::Adapter(_) => store.name().to_string(),
            _ => String::new(),
        },
        store: kind,
        clock_mode: a.clock_mode,
        name,
        workload,
        client,
        nemesis,
        nemesis_options,
        // Under `all`, a kind this store or machine cannot do is left out
        // with a notice, unless it was also named on its own.
        optional_kinds: if a.nemesis.split(',').any(|k| k.trim() == "all") {
            let named: Vec<&str> = a.nemesis.split(',').map(str::trim).collect();
            nemeses::Kind::ALL
                .into_iter()
                .filter(|k| !named.contains(&k.name()))
                .collect()
        } else {
            Vec::new()
        },
        fixed_schedule,
        time_limit_s: a.time_limit,
        seed,
        nodes: node_count as usize,
        remote,
        concurrency,
        rate: a.rate,
        keys: a.keys as usize,
        values: a.values,
        quiesce_s: a.quiesce,
        convergence_timeout_s: a.convergence_timeout,
        op_timeout_ms: a.op_timeout_ms,
        quorums: Replication {
            n,
            r: a.r,
            w: a.w,
            conflict,
            sloppy_quorum: a.sloppy_quorum,
            read_repair: !a.no_read_repair,
            anti_entropy_ms: (a.anti_entropy * 1000.0) as u64,
            fsync: a.fsync.clone(),
        },
        subnet: a.subnet,
        results: a.results,
        ringkv_bin: a.ringkv_bin,
        command,
        checker_options: Default::default(),
        config: None,
        watchdog: crate::settings::Watchdog {
            setup_s: a.setup_timeout,
            final_reads_s: a.final_timeout,
        },
        log_json: a.log_json,
        store_params,
    };
    crate::stores::check_test(store.as_ref(), &cfg)?;
    Ok(cfg)
}

/// `--store-param KEY=VALUE`s as a map; a later one for the same key wins.
fn parse_store_params(
    given: &[String],
) -> Result<std::collections::BTreeMap<String, String>, UsageError> {
    given
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(UsageError(format!(
                "--store-param {p:?}: write KEY=VALUE, a parameter of the store's description ([params]) and its value, e.g. --store-param consistency_mode=dangerous"
            ))),
        })
        .collect()
}

/// Turns flags and, with `--config FILE`, the file into a test
/// configuration: a flag given on the command line (as `matches`, the
/// `test` subcommand's, tell) wins over the file, and the file over the
/// flag's default.
pub fn test_config_with(a: TestArgs, matches: &ArgMatches) -> Result<TestConfig, UsageError> {
    let (a, file) = with_config_file(a, matches)?;
    test_config_from(a, file.as_ref())
}

/// The flags with the `--config` file laid under them (a flag given on the
/// command line wins), and the file as loaded.
fn with_config_file(
    a: TestArgs,
    matches: &ArgMatches,
) -> Result<
    (
        TestArgs,
        Option<(PathBuf, crate::settings::config_file::Loaded)>,
    ),
    UsageError,
> {
    let Some(path) = a.config.clone() else {
        return Ok((a, None));
    };
    let loaded = crate::settings::config_file::load(&path)?;
    let mut a = a;
    loaded.file.apply(&mut a, &|id| {
        matches.value_source(id) == Some(ValueSource::CommandLine)
    });
    Ok((a, Some((path, loaded))))
}

/// [`test_config`] of flags that [`with_config_file`] resolved.
fn test_config_from(
    a: TestArgs,
    file: Option<&(PathBuf, crate::settings::config_file::Loaded)>,
) -> Result<TestConfig, UsageError> {
    let Some((path, loaded)) = file else {
        return test_config(a);
    };
    let mut cfg = test_config(a).map_err(|e| {
        UsageError(format!(
            "{} (settings from {} and the command line)",
            e.0,
            path.display()
        ))
    })?;
    cfg.checker_options = loaded.file.checker_options();
    cfg.config = Some(crate::settings::ConfigSource {
        path: path.clone(),
        row: None,
        text: loaded.text.clone(),
    });
    Ok(cfg)
}

/// The configurations of `--test-count` runs: the same test, run `count`
/// times, the k-th (from 0) with the first's seed plus k.
pub fn test_configs(a: TestArgs, matches: &ArgMatches) -> Result<Vec<TestConfig>, UsageError> {
    let count = a.test_count.max(1);
    let (a, file) = with_config_file(a, matches)?;
    let first = test_config_from(a.clone(), file.as_ref())?;
    let mut out = vec![first];
    for k in 1..count {
        let mut next = a.clone();
        next.seed = Some(out[0].seed.wrapping_add(k as u64));
        out.push(test_config_from(next, file.as_ref())?);
    }
    Ok(out)
}

/// The defaults of `faultline test`'s flags, as `TestArgs`.
pub fn default_test_args() -> TestArgs {
    /// `faultline test`'s flags alone, to read their defaults.
    #[derive(Parser)]
    struct Test {
        #[command(flatten)]
        args: TestArgs,
    }
    match Test::try_parse_from(["test"]) {
        Ok(t) => t.args,
        Err(e) => unreachable!("`faultline test` parses: {e}"),
    }
}

#[cfg(test)]
mod tests;
