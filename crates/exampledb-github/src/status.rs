//! Where the examples come from: [`Status`].

use std::path::{Path, PathBuf};

use crate::Problem;

/// Where the database's examples come from, and why, once it has been opened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Not used yet: it opens on the first fetch, `keys` or
    /// [`check`](crate::GitHubArtifactDatabase::check).
    NotOpened,
    /// A cached zip younger than the cache timeout is in use.
    Cached {
        /// The zip.
        archive: PathBuf,
    },
    /// A new artifact was downloaded and is in use.
    Downloaded {
        /// The zip in the cache.
        archive: PathBuf,
        /// The artifact's id on GitHub.
        artifact_id: u64,
    },
    /// The download failed; the expired cached zip is in use.
    ExpiredFallback {
        /// The zip.
        archive: PathBuf,
        /// Why no new one could be had.
        problem: Problem,
    },
    /// Nothing usable: the database behaves as an empty one (or, in strict mode, every
    /// call returns this problem).
    Unavailable {
        /// Why.
        problem: Problem,
    },
}

impl Status {
    /// The zip in use, if any.
    pub fn archive(&self) -> Option<&Path> {
        match self {
            Status::Cached { archive }
            | Status::Downloaded { archive, .. }
            | Status::ExpiredFallback { archive, .. } => Some(archive),
            _ => None,
        }
    }

    /// What went wrong, if anything.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Status::ExpiredFallback { problem, .. } | Status::Unavailable { problem } => {
                Some(problem)
            }
            _ => None,
        }
    }
}
