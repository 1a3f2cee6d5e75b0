//! Damage to one file, the way the `corrupt` nemesis does it while the
//! store is down: flipped bits in one page, or a cut tail.
//!
//! Disks and file systems do both: a bit rots or a firmware bug writes the
//! wrong sector (Jepsen's `bitflip`), a crash leaves a file shorter than
//! the writes it acknowledged (`truncate`). A store with checksums should
//! notice the first and refuse or repair the damaged data, and its peers
//! should bring it back; one without may serve garbage. The damage is drawn
//! from a seed, so a run replays it, and described in one line for the
//! history and the report. Either way the file is fsynced afterwards: the
//! damage is on disk, not in a cache a later power failure would drop.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The page a bit flip stays inside.
const PAGE: u64 = 4096;

/// What to do to the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Damage {
    /// Flip this many bits (drawn with repetition) inside one page.
    FlipBits(u32),
    /// Cut this many bytes off the end (the whole file, if shorter).
    Truncate(u64),
}

/// A small deterministic generator (SplitMix64): the same seed gives the
/// same damage on every machine and in every version.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0), close enough for choosing bits.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Damages `path` as `damage` says, drawing positions from `seed`, and
/// fsyncs it; returns one line saying what changed where.
pub fn corrupt(path: &Path, damage: Damage, seed: u64) -> io::Result<String> {
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    let shown = path.display();
    let line = match damage {
        Damage::Truncate(bytes) => {
            let to = len.saturating_sub(bytes);
            file.set_len(to)?;
            format!("cut {shown} from {len} to {to} bytes")
        }
        Damage::FlipBits(_) if len == 0 => format!("{shown} is empty: no bit to flip"),
        Damage::FlipBits(bits) => {
            let mut rng = SplitMix(seed);
            let page = rng.below(len.div_ceil(PAGE));
            let start = page * PAGE;
            let end = (start + PAGE).min(len);
            let mut buf = vec![0u8; (end - start) as usize];
            file.read_exact_at(&mut buf, start)?;
            let mut flipped = Vec::new();
            for _ in 0..bits {
                let at = rng.below(buf.len() as u64) as usize;
                let bit = rng.below(8) as u8;
                buf[at] ^= 1 << bit;
                flipped.push(format!("{}.{bit}", start + at as u64));
            }
            file.write_all_at(&buf, start)?;
            let more = flipped.len().saturating_sub(8);
            flipped.truncate(8);
            let tail = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            format!(
                "flipped {bits} bits of {shown} in bytes {start}-{} (byte.bit: {}{tail})",
                end - 1,
                flipped.join(", ")
            )
        }
    };
    file.sync_all()?;
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_change_one_page_and_replay_from_the_seed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let original: Vec<u8> = (0..3 * PAGE).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &original).unwrap();
        let line = corrupt(&path, Damage::FlipBits(5), 7).unwrap();
        assert!(line.starts_with("flipped 5 bits of "), "{line}");
        let after = std::fs::read(&path).unwrap();
        assert_eq!(after.len(), original.len());
        let changed: Vec<usize> = (0..after.len())
            .filter(|&i| after[i] != original[i])
            .collect();
        assert!(!changed.is_empty(), "nothing changed");
        let page = changed[0] as u64 / PAGE;
        assert!(changed.iter().all(|&i| i as u64 / PAGE == page));
        // The same seed on the same file flips the same bits back.
        std::fs::write(&path, &after).unwrap();
        assert_eq!(corrupt(&path, Damage::FlipBits(5), 7).unwrap(), line);
        assert_eq!(std::fs::read(&path).unwrap(), original);
    }

    #[test]
    fn truncation_cuts_the_tail_and_stops_at_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![1u8; 10_000]).unwrap();
        let line = corrupt(&path, Damage::Truncate(4096), 0).unwrap();
        assert!(line.ends_with("from 10000 to 5904 bytes"), "{line}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 5904);
        corrupt(&path, Damage::Truncate(1 << 20), 0).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        let empty = corrupt(&path, Damage::FlipBits(3), 1).unwrap();
        assert!(empty.ends_with("is empty: no bit to flip"), "{empty}");
    }
}
