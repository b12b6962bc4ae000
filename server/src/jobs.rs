//! Index jobs: `POST /v1/index` queues a path; one worker thread indexes queued paths one at a time
//! (the indexer already uses every core), so searches go on while it runs and see each batch as
//! soon as it is committed.

use crate::AppState;
use loupe_indexer::Counters;
use loupe_schemas::api::{Job, JobState};
use loupe_schemas::{ErrorBody, ErrorCode};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// Finished jobs kept for `GET /v1/jobs/{id}`.
const KEEP_FINISHED: usize = 100;

struct Entry {
    job: Job,
    progress: Arc<Counters>,
}

#[derive(Default)]
struct Inner {
    jobs: BTreeMap<u64, Entry>,
    queue: VecDeque<u64>,
    next: u64,
    shutdown: bool,
}

/// The job table and queue.
#[derive(Default)]
pub struct Jobs {
    inner: Mutex<Inner>,
    wake: Condvar,
    /// Set on shutdown: the running job stops at its next batch boundary.
    cancel: AtomicBool,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn parse_id(id: &str) -> Option<u64> {
    id.strip_prefix("job-")?.parse().ok()
}

impl Jobs {
    /// Queues a path (already checked and canonical).
    pub fn submit(&self, path: String) -> Option<Job> {
        let mut g = self.inner.lock().ok()?;
        g.next += 1;
        let n = g.next;
        let job = Job {
            id: format!("job-{n}"),
            path,
            state: JobState::Queued,
            files_seen: 0,
            files_total: None,
            files_done: 0,
            created_at: now(),
            finished_at: None,
            report: None,
            error: None,
        };
        g.jobs.insert(
            n,
            Entry {
                job: job.clone(),
                progress: Arc::new(Counters::new()),
            },
        );
        g.queue.push_back(n);
        // Forget the oldest finished jobs.
        while g.jobs.len() > KEEP_FINISHED {
            let oldest = g
                .jobs
                .iter()
                .find(|(_, e)| matches!(e.job.state, JobState::Done | JobState::Failed))
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => {
                    g.jobs.remove(&k);
                }
                None => break,
            }
        }
        self.wake.notify_one();
        Some(job)
    }

    /// A job as it is now, with live progress.
    pub fn get(&self, id: &str) -> Option<Job> {
        let n = parse_id(id)?;
        let g = self.inner.lock().ok()?;
        let e = g.jobs.get(&n)?;
        let mut job = e.job.clone();
        if job.report.is_none() {
            let p = &e.progress;
            job.files_seen = p.seen.load(Ordering::Relaxed);
            job.files_total = p.total();
            job.files_done = p.done.load(Ordering::Relaxed);
        }
        Some(job)
    }

    /// Whether a job is queued or running.
    pub fn busy(&self) -> bool {
        self.inner.lock().is_ok_and(|g| {
            g.jobs
                .values()
                .any(|e| matches!(e.job.state, JobState::Queued | JobState::Running))
        })
    }

    pub fn shutdown(&self) {
        self.cancel.store(true, Ordering::SeqCst);
        if let Ok(mut g) = self.inner.lock() {
            g.shutdown = true;
        }
        self.wake.notify_all();
    }

    /// Waits for the next queued job; `None` on shutdown.
    fn next(&self) -> Option<(u64, String, Arc<Counters>)> {
        let mut g = self.inner.lock().ok()?;
        loop {
            if g.shutdown {
                return None;
            }
            if let Some(n) = g.queue.pop_front()
                && let Some(e) = g.jobs.get_mut(&n)
            {
                e.job.state = JobState::Running;
                return Some((n, e.job.path.clone(), e.progress.clone()));
            }
            g = self.wake.wait(g).ok()?;
        }
    }

    fn finish(&self, n: u64, result: Result<loupe_schemas::IndexReport, ErrorBody>) {
        let Ok(mut g) = self.inner.lock() else { return };
        let Some(e) = g.jobs.get_mut(&n) else { return };
        e.job.finished_at = Some(now());
        match result {
            Ok(report) => {
                e.job.state = if report.interrupted {
                    JobState::Failed
                } else {
                    JobState::Done
                };
                if report.interrupted {
                    e.job.error = Some(ErrorBody {
                        code: ErrorCode::Interrupted,
                        message: "the server shut down during the job; submit it again to finish".into(),
                    });
                }
                e.job.files_seen = report.seen;
                e.job.files_done = report.indexed + report.failed.len() as u64;
                e.job.files_total = Some(e.job.files_done);
                e.job.report = Some(report);
            }
            Err(body) => {
                e.job.state = JobState::Failed;
                e.job.error = Some(body);
            }
        }
    }
}

/// Starts the worker thread.
pub fn spawn_worker(state: Arc<AppState>) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("loupe-index-jobs".into())
        .spawn(move || {
            while let Some((n, path, progress)) = state.jobs.next() {
                tracing::info!(job = n, path = %path, "index job started");
                let decode = loupe_models::whisper::Decode::default();
                let models = loupe_indexer::Models::from_set(&state.models.set, &decode);
                let opts = loupe_indexer::Options {
                    progress,
                    ..Default::default()
                };
                let result = loupe_indexer::index_path(
                    &state.index,
                    &models,
                    std::path::Path::new(&path),
                    &opts,
                    &state.jobs.cancel,
                )
                .map_err(|e| ErrorBody {
                    code: ErrorCode::IndexFailed,
                    message: e.to_string(),
                });
                match &result {
                    Ok(r) => tracing::info!(
                        job = n,
                        indexed = r.indexed,
                        failed = r.failed.len(),
                        elapsed_s = r.elapsed_s,
                        "index job finished"
                    ),
                    Err(e) => tracing::warn!(job = n, "index job failed: {}", e.message),
                }
                if let Err(e) = state.refresh_roots() {
                    tracing::warn!("reading roots: {e}");
                }
                state.jobs.finish(n, result);
            }
        })
        .unwrap_or_else(|e| {
            tracing::error!("cannot start the index worker: {e}");
            std::thread::spawn(|| {})
        })
}
