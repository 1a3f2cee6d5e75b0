//! The description (every kind of bad field), placeholder rendering, and
//! the store's answers from its description. The cluster's lifecycle is
//! tested in `cluster/tests.rs`.

use super::*;
use crate::stores::StoreNode;
use std::path::Path;

/// A small valid description; tests break one field of it at a time.
const VALID: &str = r#"
name = "tiny"
workloads = ["set"]
port = 7000
[ports]
peer = 7001
[node]
start = ["{{ faultline_dir }}/store", "--dir", "{{ dir }}"]
[client]
command = ["python3", "{{ adapter_dir }}/a.py", "{{ ip }}:{{ port }}"]
"#;

fn parse(text: &str) -> Result<AdapterStore, DescriptionError> {
    AdapterStore::parse(text, "my/store.toml", Path::new("/nonexistent"))
}

pub(super) fn nodes(n: u8, base: &Path) -> Vec<StoreNode> {
    (1..=n)
        .map(|i| StoreNode {
            name: format!("n{i}"),
            ip: std::net::Ipv4Addr::new(198, 18, 3, 10 + i).into(),
            dir: base.join(format!("n{i}")),
        })
        .collect()
}

pub(super) fn params() -> RunParams {
    RunParams {
        workload: "set".into(),
        keys: 4,
        values: workloads::register::DEFAULT_VALUES,
        op_timeout_ms: 1500,
        concurrency: 5,
        seed: 1,
        store_params: Default::default(),
    }
}

#[test]
fn the_example_description_loads_and_writes_a_config_ringkv_accepts() {
    let store = AdapterStore::load(&example_path()).unwrap();
    let d = store.description();
    assert_eq!(d.name, "ringkv-py");
    assert_eq!(d.workloads, workloads::adapter::WORKLOADS_V2);
    assert_eq!(d.client.protocol(), workloads::adapter::Protocol::V2);
    assert!(!d.client.read_local.iter().any(|w| w == "register"));
    assert_eq!(store.params()["conflict"], "lww");
    assert!(d.node.faketime && d.node.leave.is_some());
    for count in [5, 3, 1] {
        let ns = nodes(count, Path::new("/tmp/run"));
        let vars = store.vars(&ns, 0, &params(), "");
        let text = render(&store.templates[0], &vars).unwrap();
        let c = ringkv::Config::from_toml_str(&text, Path::new("t")).unwrap_or_else(|e| {
            panic!("{e}\n{text}");
        });
        assert_eq!(c.nodes.len(), count as usize);
        assert_eq!(c.n, (count as usize).min(3));
        assert_eq!(c.listen, "198.18.3.11:8080");
        assert_eq!(c.data_dir, Some(PathBuf::from("/tmp/run/n1/data")));
    }
    // A --store-param reaches every template in place of its default.
    let mut dvv = params();
    dvv.store_params.insert("conflict".into(), "dvv".into());
    let ns = nodes(3, Path::new("/tmp/run"));
    for (p, want) in [(params(), "lww"), (dvv, "dvv")] {
        let text = render(&store.templates[0], &store.vars(&ns, 0, &p, "")).unwrap();
        let c = ringkv::Config::from_toml_str(&text, Path::new("t")).unwrap();
        assert_eq!(Some(c.conflict), ringkv::versioning::Mode::parse(want));
    }
    let argv = render_argv(&d.node.start, &store.vars(&ns, 1, &params(), "")).unwrap();
    assert_eq!(argv[1..], ["--config", "/tmp/run/n2/ringkv.toml"]);
    assert!(argv[0].ends_with("/ringkv"), "{argv:?}");
    let client = render_argv(&d.client.command, &store.vars(&ns, 2, &params(), "w2")).unwrap();
    let script = example_path().with_file_name("ringkv_adapter.py");
    assert_eq!(
        client[1],
        std::fs::canonicalize(script).unwrap().display().to_string()
    );
    assert_eq!(
        client[2..],
        [
            "client",
            "--addr",
            "198.18.3.13:8080",
            "--workload",
            "set",
            "--worker",
            "w2",
            "--timeout-ms",
            "1500"
        ]
    );
}

#[test]
fn every_bad_field_gets_one_line_naming_the_file_the_field_and_a_fix() {
    // (what to do to VALID, the field named, a fragment of the message)
    let swap = |from: &str, to: &str| {
        assert!(VALID.contains(from), "{from}");
        VALID.replacen(from, to, 1)
    };
    let cases: Vec<(String, &str, &str)> = vec![
        (swap("port = 7000", "port = "), "line 4", "not valid TOML"),
        (swap("name = \"tiny\"", ""), "name", "is missing; add it: name = \"my-store\""),
        (swap("name = \"tiny\"", "name = \"a b\""), "name", "not a plain name"),
        (
            swap("[node]\n", "[node]\nstrat = []\n"),
            "node.strat",
            "not a field of an adapter description; check its spelling; known here: install, wipe",
        ),
        (swap("port = 7000", "port = 0"), "port", "is 0"),
        (swap("port = 7000", "port = \"http\""), "port", "expected a port number"),
        (swap("peer = 7001", "peer-2 = 7001"), "ports.peer-2", "letters, digits and '_'"),
        (
            swap("workloads = [\"set\"]", "workloads = [\"set\", \"counter\"]"),
            "workloads[1]",
            "adapters of protocol 1 cannot run the workload \"counter\"; counter needs protocol 2: add protocol = 2 under [client]",
        ),
        (swap("workloads = [\"set\"]", "workloads = []"), "workloads", "is empty"),
        (
            swap("[node]\n", "[node]\ndata_dir = \"/var/lib/x\"\n"),
            "node.data_dir",
            "\"/var/lib/x\" is not a folder inside the node's directory",
        ),
        (
            swap("[node]\n", "[node]\ndata_dir = \"../x\"\n"),
            "node.data_dir",
            "is not a folder inside the node's directory",
        ),
        (
            swap("[node]\n", "[node]\ndata_files = [\"db\"]\n"),
            "node.data_files[0]",
            "names a file but node.data_dir is not given",
        ),
        (
            swap("[node]\n", "[node]\ndata_dir = \"data\"\ndata_files = [\"../db\"]\n"),
            "node.data_files[0]",
            "\"../db\" is not a path inside node.data_dir",
        ),
        (
            swap("start = [\"{{ faultline_dir }}/store\", \"--dir\", \"{{ dir }}\"]", "start = \"store --dir /x\""),
            "node.start",
            "is a string, but faultline runs no shell: a command is a list of arguments; write [\"store\", \"--dir\", \"/x\"]",
        ),
        (
            swap("start = [\"{{ faultline_dir }}/store\", \"--dir\", \"{{ dir }}\"]", "start = [\"store --dir /x\"]"),
            "node.start",
            "one argument holding spaces: faultline runs no shell, so it would be run as one program of that name; split it into arguments: [\"store\", \"--dir\", \"/x\"]",
        ),
        (
            swap("start = [\"{{ faultline_dir }}/store\", \"--dir\", \"{{ dir }}\"]", "start = []"),
            "node.start",
            "is an empty command",
        ),
        (
            swap("start = [\"{{ faultline_dir }}/store\", \"--dir\", \"{{ dir }}\"]", ""),
            "node.start",
            "is missing; add it: a list of arguments, no shell",
        ),
        (
            swap("[node]\n", "[node]\ninstall = [\"apt-get\", \"install\", \"-y\", \"x\"]\n"),
            "node.install",
            "is one command, but it is a list of commands (each a list of arguments); write install = [[\"apt-get\", \"install\", \"-y\", \"x\"]]",
        ),
        (
            swap("[node]\n", "[node]\nsetup = [[]]\n"),
            "node.setup[0]",
            "is an empty command",
        ),
        (
            swap("[node]\n", "[node]\nleave = [\"x\"]\n"),
            "node.join",
            "needs both leave and join",
        ),
        (
            swap("\"{{ dir }}\"]", "\"{{ nodee }}\"]"),
            "node.start[2]",
            "Variable `nodee` not found in context",
        ),
        (
            swap("[node]\n", "[node]\nlogs = [\"{{ dir\"]\n"),
            "node.logs[0]",
            "templates use tera syntax",
        ),
        (
            swap("[node]\n", "[node]\nenv = { \"A=B\" = \"1\" }\n"),
            "node.env.A=B",
            "is not an environment variable's name",
        ),
        (
            swap("[client]", "[[node.files]]\npath = \"{{ dir }}/c\"\n[client]"),
            "node.files[0]",
            "needs exactly one of template and template_file",
        ),
        (
            swap("[client]", "[[node.files]]\npath = \"{{ dir }}/c\"\ntemplate_file = \"c.tera\"\n[client]"),
            "node.files[0].template_file",
            "cannot read /nonexistent/c.tera",
        ),
        (
            swap("[client]", "[[node.files]]\npath = \"{{ dir }}/c\"\ntemplate = \"{% for %}\"\n[client]"),
            "node.files[0].template",
            "templates use tera syntax",
        ),
        (
            swap("[client]\n", "[client]\nread_local = [\"register\"]\n"),
            "client.read_local[0]",
            "\"register\" is not one of the description's workloads",
        ),
        (
            swap("[client]\n", "[client]\nreplicas = \"some\"\n"),
            "client.replicas",
            "\"some\" is neither all nor preflist",
        ),
        (
            swap("\"{{ ip }}:{{ port }}\"]", "\"{{ ip }}:{{ ports.raft }}\"]"),
            "client.command[2]",
            "raft",
        ),
        (
            VALID.split("[client]").next().unwrap().to_string(),
            "client",
            "is missing; add it: a table",
        ),
        (
            swap("[node]\n", "[node]\nfaketime = \"yes\"\n"),
            "node.faketime",
            "expected true or false",
        ),
    ];
    for (text, field, fragment) in cases {
        let e = parse(&text).expect_err(field).to_string();
        assert!(!e.contains('\n'), "one line: {e}");
        assert!(
            e.starts_with(&format!("my/store.toml: {field}: ")),
            "{field}: {e}"
        );
        assert!(e.contains(fragment), "{field}: {fragment:?} not in: {e}");
        assert!(e.ends_with(" (docs/adapters.md#the-description)"), "{e}");
        // A problem, then a fix.
        assert!(e.contains("; "), "{e}");
    }
    assert!(parse(VALID).is_ok());
    let e = AdapterStore::load(Path::new("/nonexistent/x.toml")).unwrap_err();
    assert_eq!(e.field, "(file)");
    assert!(e.to_string().contains("cannot read it"), "{e}");
}

#[test]
fn a_hostile_value_stays_exactly_one_argument() {
    let store = parse(VALID).unwrap();
    let hostile = "/tmp/a b; rm -rf ~ $(reboot) `id` \"q\" 'p'\n--flag *";
    let mut ns = nodes(2, Path::new("/tmp"));
    ns[0].dir = PathBuf::from(hostile);
    ns[0].name = "n1 --evil".into();
    let vars = store.vars(&ns, 0, &params(), "");
    let argv = render_argv(
        &[
            "prog".into(),
            "--dir={{ dir }}".into(),
            "{{ dir }}/data".into(),
            "{{ node }}".into(),
            "{% for n in nodes %}{{ n.name }} {% endfor %}".into(),
        ],
        &vars,
    )
    .unwrap();
    assert_eq!(
        argv,
        [
            "prog".to_string(),
            format!("--dir={hostile}"),
            format!("{hostile}/data"),
            "n1 --evil".into(),
            "n1 --evil n2 ".into(),
        ]
    );
    // No escaping either: the value arrives as it is.
    assert_eq!(render("{{ dir }}", &vars).unwrap(), hostile);
}

#[test]
fn templates_see_every_documented_variable() {
    let store = parse(VALID).unwrap();
    let ns = nodes(3, Path::new("/r"));
    let vars = store.vars(&ns, 1, &params(), "w4");
    let t = "{{ store }}|{{ node }}|{{ index }}|{{ ip }}|{{ port }}|{{ ports.peer }}|{{ dir }}|\
             {% for n in nodes %}{{ n.index }}={{ n.name }}@{{ n.ip }},{% endfor %}|{{ adapter_dir }}|\
             {{ workload }}|{{ keys }}|{{ op_timeout_ms }}|{{ worker }}|{{ index + 1 }}";
    assert_eq!(
        render(t, &vars).unwrap(),
        "tiny|n2|1|198.18.3.12|7000|7001|/r/n2|0=n1@198.18.3.11,1=n2@198.18.3.12,2=n3@198.18.3.13,|\
         /nonexistent|set|4|1500|w4|2"
    );
    let exe = std::env::current_exe().unwrap();
    assert_eq!(
        render("{{ faultline_dir }}", &vars).unwrap(),
        exe.parent().unwrap().display().to_string()
    );
}

#[test]
fn the_store_validates_workloads_modes_and_faults_from_its_description() {
    let store = parse(VALID).unwrap();
    assert_eq!(store.name(), "tiny");
    assert_eq!(
        store.validate(workloads::Workload::Set, None).unwrap(),
        workloads::ClientMode::Adapter
    );
    assert_eq!(
        store
            .validate(workloads::Workload::Set, Some("adapter"))
            .unwrap(),
        workloads::ClientMode::Adapter
    );
    let e = store
        .validate(workloads::Workload::Set, Some("crdt"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("one client mode, adapter"), "{e}");
    let e = store
        .validate(workloads::Workload::parse("register").unwrap(), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("runs set; add \"register\" to its workloads"),
        "{e}"
    );
    let e = store
        .validate(workloads::Workload::parse("counter").unwrap(), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("counter needs an adapter of protocol 2"), "{e}");
    let e = store
        .validate(workloads::Workload::parse("kv").unwrap(), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("adapters run set, register, counter"), "{e}");
    assert!(store
        .unsupported_fault(nemeses::Kind::Clock)
        .unwrap()
        .contains("node.faketime = true"));
    assert!(store
        .unsupported_fault(nemeses::Kind::Membership)
        .unwrap()
        .contains("node.leave"));
    for kind in [
        nemeses::Kind::Partition,
        nemeses::Kind::Loss,
        nemeses::Kind::Kill,
        nemeses::Kind::Pause,
    ] {
        assert_eq!(store.unsupported_fault(kind), None, "{kind}");
    }
    let example = AdapterStore::load(&example_path()).unwrap();
    assert_eq!(example.unsupported_fault(nemeses::Kind::Clock), None);
    assert_eq!(example.unsupported_fault(nemeses::Kind::Membership), None);
    let reqs = example.requirements();
    assert_eq!(reqs.len(), 1);
    assert_eq!((reqs[0].program, reqs[0].package), ("python3", "python3"));
}
