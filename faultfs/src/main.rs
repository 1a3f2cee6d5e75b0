//! The `faultfs` daemon: mounts a faultfs in the foreground until SIGTERM/SIGINT (a clean
//! shutdown that writes everything back) or `kill -9` (a power failure).
//!
//! Prints `faultfs: mounted MOUNT over BACKING` on stdout once the mount is usable; logs go
//! to stderr (`RUST_LOG` filters them, `info` by default).
//!
//! `faultfs corrupt` damages one file instead (flipped bits, a cut tail): the `corrupt`
//! nemesis runs it on a node whose store is down.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use faultfs::{Error, FaultFs, Options};

/// A FUSE passthrough that keeps un-fsynced file data in memory: `kill -9` of this daemon
/// loses it, like a power failure.
#[derive(Debug, Parser)]
#[command(name = "faultfs", version, subcommand_negates_reqs = true)]
struct Args {
    /// The directory holding the durable files.
    #[arg(long, required = true)]
    backing: Option<PathBuf>,
    /// Where to mount the file system (an empty directory).
    #[arg(long, required = true)]
    mount: Option<PathBuf>,
    /// A file holding one integer: milliseconds every write and fsync waits (0 or missing: none).
    #[arg(long)]
    delay_file: Option<PathBuf>,
    /// Write everything back once cached dirty data passes this many MiB.
    #[arg(long, default_value_t = 1024)]
    max_dirty_mib: u64,
    #[command(subcommand)]
    command: Option<Command>,
}

/// What else faultfs does.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Damage one file (flip bits in one page, or cut its tail), fsync it, and print what
    /// changed where.
    Corrupt {
        /// Chooses the page and the bits.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Flip this many bits inside one page.
        #[arg(
            long,
            conflicts_with = "truncate",
            required_unless_present = "truncate"
        )]
        flip_bits: Option<u32>,
        /// Cut this many bytes off the end.
        #[arg(long)]
        truncate: Option<u64>,
        /// The file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .init();
    let args = Args::parse();
    if let Some(Command::Corrupt {
        seed,
        flip_bits,
        truncate,
        file,
    }) = args.command
    {
        let damage = match (flip_bits, truncate) {
            (Some(bits), _) => faultfs::corrupt::Damage::FlipBits(bits),
            (None, Some(bytes)) => faultfs::corrupt::Damage::Truncate(bytes),
            (None, None) => unreachable!("clap requires one"),
        };
        return match faultfs::corrupt::corrupt(&file, damage, seed) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("faultfs corrupt: {}: {e}", file.display());
                ExitCode::FAILURE
            }
        };
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("faultfs: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The signals the main thread waits for: TERM and INT stop cleanly; USR1 is sent by the
/// session thread when the mount went away by itself (someone unmounted it).
fn block_signals() -> libc::sigset_t {
    // SAFETY: the set is initialised by sigemptyset before use; blocking signals in this
    // thread before any other exists makes every later thread inherit the mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGUSR1] {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn wait_signal(set: &libc::sigset_t) -> i32 {
    let mut sig = 0;
    // SAFETY: set is a valid signal set and sig a valid out-pointer.
    while unsafe { libc::sigwait(set, &mut sig) } != 0 {}
    sig
}

fn run(args: Args) -> Result<(), Error> {
    let (Some(backing), Some(mount)) = (&args.backing, &args.mount) else {
        unreachable!("clap requires --backing and --mount without a subcommand")
    };
    let dirs = faultfs::mount::check(backing, mount)?;
    // Modes asked for by callers reach the backing files unmasked by our own umask.
    // SAFETY: umask has no preconditions.
    unsafe { libc::umask(0) };
    let signals = block_signals();
    let (fs, shared) = FaultFs::new(Options {
        backing: dirs.backing.clone(),
        delay_file: args.delay_file,
        max_dirty_bytes: args.max_dirty_mib.saturating_mul(1 << 20),
    })?;
    let mount_err = |source| Error::Mount {
        path: dirs.mount.clone(),
        source,
    };
    let mut session =
        fuser::Session::new(fs, &dirs.mount, &faultfs::mount::config()).map_err(mount_err)?;
    let mut unmounter = session.unmount_callable();
    // SAFETY: pthread_self has no preconditions.
    let main_thread = unsafe { libc::pthread_self() };
    let runner = std::thread::spawn(move || {
        let result = session.run();
        // SAFETY: the main thread outlives this one (it joins it or exits the process).
        unsafe { libc::pthread_kill(main_thread, libc::SIGUSR1) };
        result
    });
    println!(
        "faultfs: mounted {} over {}",
        dirs.mount.display(),
        dirs.backing.display()
    );
    let _ = std::io::stdout().flush();

    let sig = wait_signal(&signals);
    if sig == libc::SIGUSR1 {
        tracing::info!("the mount went away: exiting");
        return match runner.join() {
            Ok(r) => r.map_err(mount_err),
            Err(_) => Err(mount_err(std::io::Error::other(
                "the session thread panicked",
            ))),
        };
    }
    tracing::info!(signal = sig, "clean shutdown: writing cached data back");
    let files = shared.flush_all().map_err(Error::WriteBack)?;
    tracing::info!(files, "cached data written back and fsynced");
    match unmounter.unmount() {
        Ok(()) => {
            // The session thread sees the device close, runs destroy (nothing left to
            // flush) and ends.
            let _ = runner.join();
            Ok(())
        }
        Err(e) => {
            tracing::warn!(
                "unmount failed ({e}): files are still open; detaching the mount lazily"
            );
            shared.flush_all().map_err(Error::WriteBack)?;
            let path = std::ffi::CString::new(dirs.mount.as_os_str().as_encoded_bytes())
                .map_err(|_| mount_err(std::io::Error::other("mount path holds a NUL byte")))?;
            // SAFETY: path is a valid NUL-terminated path.
            unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
            Ok(())
        }
    }
}
