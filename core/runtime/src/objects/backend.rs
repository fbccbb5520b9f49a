//! [`ObjectBackend`]: one `s3` storage as a handler uses it — the store, the runtime
//! its requests run on, and the spool of objects read.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use slog::{Logger, info, warn};

use switchyard_object_storage::{ConditionalCreate, ObjectStorage, ObjectStorageError, S3Settings};

use super::cache::ReadCache;
use super::health::{self, StoreHealth};
use crate::topology::{S3Binding, S3StorageSpec};

/// Threads of the runtime that carries a storage's requests: they only wait on the
/// network and copy into the spool, so two keep a 2-core machine's handlers free.
const IO_THREADS: usize = 2;

/// Bytes of spooled objects kept for reuse once no transfer reads them.
const CACHE_BYTES: u64 = 1 << 30;

/// A multipart upload recorded this long ago belongs to a host that died: an upload
/// exists only while a commit sends a spooled file, which takes seconds.
const STALE_UPLOAD: Duration = Duration::from_secs(3600);

/// How often the sweeper looks for such uploads, and for this host's own orphans (a
/// commit that failed while the store was away): one listing of the upload records.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// A connected `s3` storage.
#[derive(Debug)]
pub struct ObjectBackend {
    /// The storage's name in the topology, for errors and logs.
    pub name: String,
    /// Where it is (endpoint, bucket, prefix), for the console: names of the
    /// credentials' variables at most, never their values.
    pub spec: S3StorageSpec,
    pub storage: ObjectStorage,
    pub cache: ReadCache,
    /// How the store has been answering (for the console).
    pub health: Arc<StoreHealth>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for ObjectBackend {
    /// Dropped on a handler thread, inside its runtime: the I/O runtime is let go
    /// without waiting (a blocking shutdown there would panic).
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl ObjectBackend {
    /// Connect to `binding`'s store: credentials from the environment variables it
    /// names, then one probe that the store answers and honours conditional creates
    /// (locks and create-only commits rely on them). Refused with a reason naming the
    /// storage: a host does not start on a store it cannot use (see
    /// docs/operations.md, "Object storage").
    pub fn connect(
        binding: &S3Binding,
        spool: &Path,
        log: &Logger,
    ) -> Result<Arc<ObjectBackend>, String> {
        let name = &binding.name;
        let spec = &binding.spec;
        let credentials = match (&spec.access_key_env, &spec.secret_key_env) {
            (Some(key), Some(secret)) => Some((env(name, key)?, env(name, secret)?)),
            _ => None,
        };
        let secrets = credentials.iter().flat_map(|(k, s)| [k.clone(), s.clone()]);
        let health = Arc::new(StoreHealth::new(secrets.collect()));
        let settings = S3Settings {
            endpoint: spec.endpoint.clone(),
            bucket: spec.bucket.clone(),
            prefix: spec.prefix.clone(),
            region: spec.region.clone(),
            credentials,
            path_style: spec.path_style,
        };
        let storage =
            ObjectStorage::connect_s3(&settings).map_err(|e| format!("storage `{name}`: {e}"))?;
        std::fs::create_dir_all(spool)
            .map_err(|e| format!("storage `{name}`: spool {}: {e}", spool.display()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(IO_THREADS)
            .thread_name(format!("sy-s3-{name}"))
            .enable_all()
            .build()
            .map_err(|e| format!("storage `{name}`: runtime: {e}"))?;
        let backend = ObjectBackend {
            name: name.clone(),
            spec: spec.clone(),
            cache: ReadCache::new(spool, CACHE_BYTES),
            storage,
            health,
            runtime: Some(runtime),
        };
        let probe = backend.storage.clone();
        let answer = backend
            .block_on(async move { probe.probe_conditional_create().await })
            .map_err(|e| format!("storage `{name}` ({}): {e}", spec.endpoint))?;
        match answer {
            ConditionalCreate::Honoured => {
                backend.health.answered();
                backend.spawn(sweep(
                    backend.storage.clone(),
                    Arc::clone(&backend.health),
                    log.new(slog::o!("storage" => name.clone())),
                ));
                let health = Arc::clone(&backend.health);
                backend.spawn(health::probe(backend.storage.clone(), health));
                Ok(Arc::new(backend))
            }
            ConditionalCreate::Ignored => Err(format!(
                "storage `{name}` ({}): the store ignores conditional creates (If-None-Match), so two hosts could both create one name; use a store that honours them",
                spec.endpoint
            )),
        }
    }

    /// Run store operation `op` on the storage's runtime, counted in its health (in
    /// flight, then its outcome); the handle is awaited from any thread.
    pub fn run<T: Send + 'static>(
        &self,
        op: impl Future<Output = Result<T, ObjectStorageError>> + Send + 'static,
    ) -> tokio::task::JoinHandle<Result<T, ObjectStorageError>> {
        let health = Arc::clone(&self.health);
        self.spawn(async move { health.track(op).await })
    }

    /// Run `fut` on the storage's runtime; the handle is awaited from any thread.
    pub fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle().spawn(fut)
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the backend")
            .handle()
    }

    /// Wait for `fut` from a thread that may be inside another runtime (start and
    /// reload run on the host's system thread): on a thread of its own.
    fn block_on<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handle = self.handle().clone();
        std::thread::scope(|s| {
            s.spawn(move || handle.block_on(fut))
                .join()
                .expect("the probe thread does not panic")
        })
    }
}

/// Abort the multipart uploads crashed hosts left, and this host's own orphans, now and
/// every [`SWEEP_EVERY`] (an aborted upload frees the store's parts; nothing of it
/// was ever visible).
async fn sweep(storage: ObjectStorage, health: Arc<StoreHealth>, log: Logger) {
    loop {
        match health
            .track(storage.sweep_stale_uploads(STALE_UPLOAD))
            .await
        {
            Ok(report) if !report.aborted.is_empty() => {
                let names: Vec<&str> = report.aborted.iter().map(|n| n.as_str()).collect();
                info!(log, "aborted uploads left by a crashed host"; "count" => names.len(), "names" => names.join(","));
            }
            Ok(_) => {}
            Err(e) => warn!(log, "upload sweep failed"; "error" => %e),
        }
        tokio::time::sleep(SWEEP_EVERY).await;
    }
}

/// The value of environment variable `var`, which storage `name` reads a credential
/// from.
fn env(name: &str, var: &str) -> Result<String, String> {
    std::env::var(var).map_err(|_| {
        format!("storage `{name}`: environment variable `{var}` (a credential) is not set")
    })
}
