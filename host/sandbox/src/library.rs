//! The `library` world's exports as a plain async Rust API: validate a JobRequest, generate
//! a password, seal files. Each method runs in a fresh sandboxed instance.
//!
//! Results are nested: the outer `Result` says whether the sandbox call itself worked
//! ([`CallError`]: limits, traps), the inner one is the component's answer (a refused
//! request, a sealing error).

use wasmtime::Store;
use wasmtime::component::ResourceAny;

use sealmail_core::bindings::library::{Library as Bindings, LibraryPre};
use sealmail_core::bindings::{archive, password, validation};

use crate::component_cache::Origin;
use crate::runtime::{CallError, RuntimeConfig, Sandbox, StoreData};

pub use archive::{Compression, Entry, SealError, SealedArchive, Timestamp};
pub use password::Strength;
pub use validation::{JobSummary, Limits, Problem, ProblemKind, ValidationError, Warning, WarningKind};

/// The component's library functions: the `library` world pre-linked in the process's
/// [`Sandbox`] ([`Sandbox::library`]). Cheap to clone.
#[derive(Clone)]
pub struct Library {
    sandbox: Sandbox,
    pre: LibraryPre<StoreData>,
    origin: Origin,
}

impl Library {
    pub(crate) fn new(sandbox: Sandbox, pre: LibraryPre<StoreData>, origin: Origin) -> Self {
        Self { sandbox, pre, origin }
    }

    /// Whether the component came from the artifact cache.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// The limits in force.
    pub fn config(&self) -> &RuntimeConfig {
        self.sandbox.config()
    }

    /// A fresh store with limits and a fresh instance in it.
    async fn instantiate(&self) -> Result<Session, CallError> {
        let mut store = self.sandbox.store(());
        let instance =
            self.pre.instantiate_async(&mut store).await.map_err(|e| self.sandbox.classify_instantiation(&store, e))?;
        Ok(Session { sandbox: self.sandbox.clone(), store, instance })
    }

    /// The component's default size limits.
    pub async fn default_limits(&self) -> Result<Limits, CallError> {
        let mut s = self.instantiate().await?;
        s.call(async |lib, store| lib.sealmail_mail_validation().call_default_limits(store).await).await
    }

    /// Validates a raw JobRequest body (`limits`: the component's defaults when `None`).
    pub async fn validate(
        &self,
        request: &[u8],
        limits: Option<Limits>,
    ) -> Result<Result<JobSummary, Vec<Problem>>, CallError> {
        let mut s = self.instantiate().await?;
        let limits = match limits {
            Some(l) => l,
            None => s.call(async |lib, store| lib.sealmail_mail_validation().call_default_limits(store).await).await?,
        };
        let result = s
            .call(async |lib, store| lib.sealmail_mail_validation().call_validate(store, request, limits).await)
            .await?;
        Ok(result.map_err(|ValidationError::Invalid(problems)| problems))
    }

    /// A fresh password.
    pub async fn generate_password(&self, strength: Strength) -> Result<String, CallError> {
        let mut s = self.instantiate().await?;
        s.call(async |lib, store| lib.sealmail_mail_password().call_generate(store, strength).await).await
    }

    /// The length of a password of `strength`.
    pub async fn password_length(&self, strength: Strength) -> Result<u32, CallError> {
        let mut s = self.instantiate().await?;
        s.call(async |lib, store| lib.sealmail_mail_password().call_length(store, strength).await).await
    }

    /// The normalized archive file name for a requested one.
    pub async fn archive_file_name(&self, requested: &str) -> Result<String, CallError> {
        let mut s = self.instantiate().await?;
        s.call(async |lib, store| lib.sealmail_mail_archive().call_archive_file_name(store, requested).await).await
    }

    /// Seals `files` at once. For large inputs prefer [`Library::sealer`].
    pub async fn seal(
        &self,
        archive_name: &str,
        files: &[archive::File],
        password: &str,
        modified: Timestamp,
    ) -> Result<Result<SealedArchive, SealError>, CallError> {
        let mut s = self.instantiate().await?;
        s.call(async |lib, store| {
            lib.sealmail_mail_archive().call_seal(store, archive_name, files, password, modified).await
        })
        .await
    }

    /// Starts an archive fed one file, one chunk at a time (bounded memory, progress).
    pub async fn sealer(
        &self,
        archive_name: &str,
        password: &str,
        modified: Timestamp,
    ) -> Result<Result<Sealer, SealError>, CallError> {
        let mut s = self.instantiate().await?;
        let created = s
            .call(async |lib, store| {
                lib.sealmail_mail_archive().sealer().call_create(store, archive_name, password, modified).await
            })
            .await?;
        Ok(created.map(|handle| Sealer { session: s, handle }))
    }
}

/// A file to seal.
pub use archive::File;

/// An archive in progress inside one sandboxed instance (see `sealer` in the WIT). Every
/// call gets the full CPU budget; memory is bounded for the whole session.
pub struct Sealer {
    session: Session,
    handle: ResourceAny,
}

impl Sealer {
    /// The archive's normalized file name.
    pub async fn archive_name(&mut self) -> Result<String, CallError> {
        let h = self.handle;
        self.session
            .call(async |lib, store| lib.sealmail_mail_archive().sealer().call_archive_name(store, h).await)
            .await
    }

    /// Starts the next file; returns its entry name.
    pub async fn begin_file(&mut self, name: &str) -> Result<Result<String, SealError>, CallError> {
        let h = self.handle;
        self.session
            .call(async |lib, store| lib.sealmail_mail_archive().sealer().call_begin_file(store, h, name).await)
            .await
    }

    /// Feeds a chunk of the current file.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<Result<(), SealError>, CallError> {
        let h = self.handle;
        self.session
            .call(async |lib, store| lib.sealmail_mail_archive().sealer().call_write(store, h, chunk).await)
            .await
    }

    /// Closes the current file; returns its entry and archive bytes.
    pub async fn end_file(&mut self) -> Result<Result<(Entry, Vec<u8>), SealError>, CallError> {
        let h = self.handle;
        self.session.call(async |lib, store| lib.sealmail_mail_archive().sealer().call_end_file(store, h).await).await
    }

    /// Writes the central directory; returns the last archive bytes.
    pub async fn finish(mut self) -> Result<Result<Vec<u8>, SealError>, CallError> {
        let h = self.handle;
        let out = self
            .session
            .call(async |lib, store| lib.sealmail_mail_archive().sealer().call_finish(store, h).await)
            .await?;
        let _ = self.handle.resource_drop_async(&mut self.session.store).await;
        Ok(out)
    }
}

/// One store and instance: a single call, or a sealing session of several calls.
struct Session {
    sandbox: Sandbox,
    store: Store<StoreData>,
    instance: Bindings,
}

impl Session {
    /// Gives the next call a full CPU budget and maps its failure to a [`CallError`].
    async fn call<T, F>(&mut self, f: F) -> Result<T, CallError>
    where
        F: AsyncFnOnce(&Bindings, &mut Store<StoreData>) -> wasmtime::Result<T>,
    {
        self.sandbox.reset_budget(&mut self.store);
        let result = f(&self.instance, &mut self.store).await;
        result.map_err(|e| self.sandbox.classify(&self.store, e))
    }
}
