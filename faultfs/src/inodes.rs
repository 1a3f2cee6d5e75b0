//! The inode table: which backing path a FUSE inode number stands for.
//!
//! The kernel names files to a FUSE daemon by inode number, not by path. faultfs uses the
//! backing file's own `st_ino` as the FUSE inode number (the backing root becomes inode 1,
//! which FUSE reserves for the root; a backing file that happens to have `st_ino` 1 takes
//! the root's backing number instead), so a cached file keeps its identity across renames
//! and hard links, and a remount finds the same numbers. The table maps each number the
//! kernel knows to the paths (relative to the backing directory) it was last seen under,
//! kept up to date on lookup, create, rename, unlink and forget. A hard-linked inode may
//! carry several paths; any one of them reaches the file. The backing directory is assumed
//! to be one file system (inode numbers of nested mounts could collide).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The FUSE inode number of the mount's root.
pub const ROOT: u64 = 1;

#[derive(Debug, Default)]
struct Node {
    /// Known paths, relative to the backing directory; the root's is the empty path.
    paths: Vec<PathBuf>,
    /// How many lookups the kernel holds (it returns them with `forget`).
    lookups: u64,
}

/// Maps FUSE inode numbers to backing paths.
#[derive(Debug)]
pub struct InodeTable {
    root_backing_ino: u64,
    nodes: HashMap<u64, Node>,
}

impl InodeTable {
    /// A table holding only the root, whose backing directory has inode `root_backing_ino`.
    pub fn new(root_backing_ino: u64) -> Self {
        let mut nodes = HashMap::new();
        nodes.insert(
            ROOT,
            Node {
                paths: vec![PathBuf::new()],
                lookups: 1,
            },
        );
        InodeTable {
            root_backing_ino,
            nodes,
        }
    }

    /// The FUSE inode number for a backing `st_ino`.
    pub fn fuse_ino(&self, backing_ino: u64) -> u64 {
        if backing_ino == self.root_backing_ino {
            ROOT
        } else if backing_ino == ROOT {
            self.root_backing_ino
        } else {
            backing_ino
        }
    }

    /// A path of `ino`, relative to the backing directory, if it still has one.
    pub fn path(&self, ino: u64) -> Option<&Path> {
        self.nodes
            .get(&ino)
            .and_then(|n| n.paths.first())
            .map(PathBuf::as_path)
    }

    /// Whether the kernel still holds lookups of `ino`.
    pub fn is_known(&self, ino: u64) -> bool {
        self.nodes.get(&ino).is_some_and(|n| n.lookups > 0)
    }

    /// Records that `ino` is reachable at `path` and, if `lookup`, that the kernel took one
    /// more reference to it (lookup, create, mkdir, symlink, link, mknod all do).
    pub fn remember(&mut self, ino: u64, path: &Path, lookup: bool) {
        let node = self.nodes.entry(ino).or_default();
        if let Some(i) = node.paths.iter().position(|p| p == path) {
            // Most recently confirmed path first.
            let p = node.paths.remove(i);
            node.paths.insert(0, p);
        } else {
            node.paths.insert(0, path.to_path_buf());
        }
        if lookup {
            node.lookups += 1;
        }
    }

    /// The kernel dropped `n` references to `ino`. Returns true when none remain (the
    /// caller then calls [`InodeTable::remove`] unless it still needs the paths).
    pub fn forget(&mut self, ino: u64, n: u64) -> bool {
        if ino == ROOT {
            return false;
        }
        match self.nodes.get_mut(&ino) {
            Some(node) => {
                node.lookups = node.lookups.saturating_sub(n);
                node.lookups == 0
            }
            None => false,
        }
    }

    /// Drops `ino` from the table.
    pub fn remove(&mut self, ino: u64) {
        if ino != ROOT {
            self.nodes.remove(&ino);
        }
    }

    /// `path` no longer names `ino` (unlink, rmdir, replaced by a rename). Returns whether
    /// `ino` has any path left.
    pub fn unlink_path(&mut self, ino: u64, path: &Path) -> bool {
        match self.nodes.get_mut(&ino) {
            Some(node) => {
                node.paths.retain(|p| p != path);
                !node.paths.is_empty()
            }
            None => false,
        }
    }

    /// `from` was renamed to `to`: every path equal to `from` or below it moves.
    pub fn rename(&mut self, from: &Path, to: &Path) {
        for node in self.nodes.values_mut() {
            for p in &mut node.paths {
                if let Ok(rest) = p.strip_prefix(from) {
                    *p = if rest.as_os_str().is_empty() {
                        to.to_path_buf()
                    } else {
                        to.join(rest)
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_collisions_map_both_ways() {
        let t = InodeTable::new(77);
        assert_eq!(t.fuse_ino(77), ROOT);
        assert_eq!(t.fuse_ino(1), 77);
        assert_eq!(t.fuse_ino(5), 5);
        assert_eq!(t.path(ROOT), Some(Path::new("")));
    }

    #[test]
    fn rename_moves_a_directory_and_everything_below_it() {
        let mut t = InodeTable::new(2);
        t.remember(10, Path::new("d"), true);
        t.remember(11, Path::new("d/f"), true);
        t.remember(12, Path::new("dd/f"), true);
        t.rename(Path::new("d"), Path::new("e/x"));
        assert_eq!(t.path(10), Some(Path::new("e/x")));
        assert_eq!(t.path(11), Some(Path::new("e/x/f")));
        assert_eq!(
            t.path(12),
            Some(Path::new("dd/f")),
            "a sibling with a common prefix stays"
        );
    }

    #[test]
    fn hard_links_keep_a_live_path_after_one_name_goes() {
        let mut t = InodeTable::new(2);
        t.remember(10, Path::new("a"), true);
        t.remember(10, Path::new("b"), true);
        assert!(t.unlink_path(10, Path::new("b")));
        assert_eq!(t.path(10), Some(Path::new("a")));
        assert!(!t.unlink_path(10, Path::new("a")));
        assert_eq!(t.path(10), None);
    }

    #[test]
    fn forget_counts_lookups() {
        let mut t = InodeTable::new(2);
        t.remember(10, Path::new("a"), true);
        t.remember(10, Path::new("a"), true);
        assert!(!t.forget(10, 1));
        assert!(t.forget(10, 1));
        assert!(!t.forget(ROOT, 1), "the root is never forgotten");
    }
}
