//! The open sequence (see the crate docs): the cache, the download lock, the download,
//! the index, and the fallbacks. It never fails: problems end up in the [`Status`].

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;

use crate::archive::Archive;
use crate::cache::{self, CachedZip};
use crate::database::Inner;
use crate::{api, Problem, Status};

/// What the open sequence leaves for every later call.
pub(crate) enum Opened {
    /// This archive is in use.
    Ready(Arc<Archive>),
    /// No archive: why.
    Unavailable(Problem),
}

impl Inner {
    /// Hypothesis's open sequence (see the crate docs). Never fails: problems end up in
    /// the status.
    pub(crate) async fn open(&self) -> (Opened, Status) {
        let dir = &self.cache_dir;
        if let Err(e) =
            exampledb_core::directory::create_storage_dir(self.storage_home.as_deref(), dir)
        {
            return self.unavailable(Problem::cache(dir, &e));
        }
        let newest = match cache::scan(dir) {
            Ok(zips) => cache::keep_newest(zips),
            Err(e) => return self.unavailable(Problem::cache(dir, &e)),
        };
        if let Some(zip) = newest
            .as_ref()
            .filter(|z| z.is_fresh(Utc::now(), self.settings.cache_timeout))
        {
            match self.index(zip.path.clone(), false).await {
                Ok(archive) => {
                    tracing::debug!(archive = %zip.path.display(), "using the cached artifact");
                    return (
                        Opened::Ready(archive),
                        Status::Cached {
                            archive: zip.path.clone(),
                        },
                    );
                }
                Err(problem) => {
                    tracing::warn!(%problem, "the cached artifact is unusable; downloading a new one")
                }
            }
        }
        let problem = match self.download(newest.as_ref()).await {
            Ok(done) => return done,
            Err(problem) => problem,
        };
        // Strict mode reports the problem instead of falling back.
        let expired = newest.filter(|z| {
            !self.settings.strict && !z.is_fresh(Utc::now(), self.settings.cache_timeout)
        });
        if let Some(zip) = expired {
            match self.index(zip.path.clone(), false).await {
                Ok(archive) => {
                    tracing::warn!(
                        %problem,
                        archive = %zip.path.display(),
                        "could not get CI's newest example database; using the expired cached artifact"
                    );
                    return (
                        Opened::Ready(archive),
                        Status::ExpiredFallback {
                            archive: zip.path,
                            problem,
                        },
                    );
                }
                Err(corrupt) => {
                    tracing::warn!(%corrupt, "the expired cached artifact is unusable too")
                }
            }
        }
        self.unavailable(problem)
    }

    fn unavailable(&self, problem: Problem) -> (Opened, Status) {
        tracing::warn!(
            %problem,
            repo = %self.location(),
            "could not get CI's example database; it is empty for this run"
        );
        (
            Opened::Unavailable(problem.clone()),
            Status::Unavailable { problem },
        )
    }

    /// Indexes `path` off the async threads; `verify` also reads every entry.
    async fn index(&self, path: PathBuf, verify: bool) -> Result<Arc<Archive>, Problem> {
        let limits = self.settings.limits;
        let work = tokio::task::spawn_blocking(move || {
            let archive = Archive::open(&path, &limits)?;
            if verify {
                archive.verify_all(limits.max_total_size)?;
            }
            Ok(Arc::new(archive))
        });
        match work.await {
            Ok(result) => result,
            Err(e) => Err(Problem::Cache {
                path: self.cache_dir.clone(),
                message: format!("indexing task failed: {e}"),
            }),
        }
    }

    /// Downloads the newest artifact into the cache (under the download lock), or uses
    /// the fresh zip another process downloaded while this one waited for the lock.
    async fn download(&self, previous: Option<&CachedZip>) -> Result<(Opened, Status), Problem> {
        let dir = &self.cache_dir;
        let lock = match cache::DownloadLock::acquire(dir, self.settings.lock_wait).await {
            Ok(lock) => lock,
            Err(e) => {
                tracing::debug!(error = %e, "cannot lock the artifact cache; downloading unlocked");
                None
            }
        };
        if lock.is_some() {
            if let Ok(zips) = cache::scan(dir) {
                let newest = zips.last();
                if let Some(zip) = newest.filter(|z| {
                    Some(*z) != previous && z.is_fresh(Utc::now(), self.settings.cache_timeout)
                }) {
                    if let Ok(archive) = self.index(zip.path.clone(), false).await {
                        return Ok((
                            Opened::Ready(archive),
                            Status::Cached {
                                archive: zip.path.clone(),
                            },
                        ));
                    }
                }
            }
            cache::remove_stale_partials(dir);
        }
        let client = api::Client::new(api::Config {
            api_url: &self.settings.api_url,
            token: self.settings.token.as_ref(),
            connect_timeout: self.settings.connect_timeout,
            operation_timeout: self.settings.operation_timeout,
            download_timeout: self.settings.download_timeout,
            allow_insecure_http: self.settings.allow_insecure_http,
        })?;
        let artifact = client
            .newest_artifact(&self.owner, &self.repo, &self.settings.artifact_name)
            .await?;
        let partial = cache::partial_path(dir);
        let downloaded = async {
            let bytes = client
                .download(&artifact, &partial, self.settings.limits.max_download_size)
                .await?;
            let archive = self.index(partial.clone(), true).await?;
            Ok::<_, Problem>((bytes, archive))
        }
        .await;
        let (bytes, mut archive) = match downloaded {
            Ok(done) => done,
            Err(problem) => {
                cache::remove_quietly(&partial);
                return Err(problem);
            }
        };
        let target = dir.join(cache::zip_name(Utc::now()));
        if let Err(e) = std::fs::rename(&partial, &target) {
            cache::remove_quietly(&partial);
            return Err(Problem::cache(&target, &e));
        }
        if let Some(archive) = Arc::get_mut(&mut archive) {
            archive.set_path(target.clone());
        }
        if let Some(old) = previous {
            cache::remove_quietly(&old.path);
        }
        tracing::info!(
            artifact_id = artifact.id,
            bytes,
            entries = archive.value_count(),
            ignored = archive.ignored(),
            archive = %target.display(),
            "downloaded CI's example database"
        );
        drop(lock);
        Ok((
            Opened::Ready(archive),
            Status::Downloaded {
                archive: target,
                artifact_id: artifact.id,
            },
        ))
    }
}
