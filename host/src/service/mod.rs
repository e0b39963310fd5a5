//! The `service` world in wasmtime: the workflow component with the host's capabilities
//! linked in (one module per imported interface: [`clock`], [`antivirus`], [`transport`],
//! [`delivery`], [`notifier`]).
//!
//! Every workflow call gets a fresh instance in a fresh store (nothing leaks from one job to
//! the next), the sandbox's memory limit, and a CPU budget that counts guest time only:
//! the imports add the time they wait on SMTP, clamd and the store to the store's
//! [`GuestClock`](crate::runtime::GuestClock), which the epoch deadline gives back.
//! What the call asked the host to do is buffered in [`CallHost::effects`] and returned to
//! the caller, which commits it together with the call's result.

mod antivirus;
pub mod bindings;
pub mod clock;
mod delivery;
mod notifier;
mod transport;

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::antivirus::Scanners;
use crate::component_cache::Origin;
use crate::runtime::{self, CallError, Loaded, RuntimeConfig, StoreData};
use crate::store::{Effects, Store};
use crate::transport::Transport;
use bindings::workflow::{DeliverOutcome, JobContext, MessageState, Policy, StartOutcome, WorkflowError};
use bindings::{Service, ServicePre};

/// The `service` component, built by `cargo xtask build-guest` (see `build.rs`).
pub static SERVICE_COMPONENT_WASM: &[u8] = include_bytes!(env!("SEALMAIL_SERVICE_WASM_PATH"));

/// What the imports act on, shared by all calls.
pub struct Services {
    /// The job store.
    pub store: Arc<dyn Store>,
    /// Where mail goes.
    pub transport: Transport,
    /// DKIM keys; every message is offered to them before it goes.
    pub dkim: crate::dkim::DkimSigners,
    /// The virus scanners (none configured: `None`).
    pub scanners: Option<Scanners>,
    /// Send unscanned when no scanner is configured (recorded as an event).
    pub allow_insecure_no_antivirus: bool,
    /// With `[bounces] verp_domain`: every message's envelope sender becomes its VERP address.
    pub verp: Option<crate::bounces::Verp>,
}

/// Per-call host state.
pub struct CallHost {
    /// Shared capabilities.
    pub services: Arc<Services>,
    /// What the call asked for, to commit with its result.
    pub effects: Effects,
    /// A host failure during the call that makes its result unusable (e.g. the store could
    /// not read a held secret); the caller retries the call later.
    pub failure: Option<String>,
}

/// The store data of a workflow call.
pub type CallData = StoreData<CallHost>;

/// A finished workflow call: its result and what it asked the host to do.
#[derive(Debug)]
pub struct Called<T> {
    /// The workflow's result.
    pub result: Result<T, WorkflowError>,
    /// Buffered writes.
    pub effects: Effects,
    /// A host failure during the call (see [`CallHost::failure`]).
    pub failure: Option<String>,
}

/// The engine and the pre-linked service component.
#[derive(Clone)]
pub struct ServiceRuntime {
    inner: Arc<Loaded<ServicePre<CallData>>>,
}

impl ServiceRuntime {
    /// Loads the embedded service component (from the artifact cache when possible).
    pub fn new(config: RuntimeConfig) -> wasmtime::Result<Self> {
        Self::with_component(config, SERVICE_COMPONENT_WASM)
    }

    /// Like [`ServiceRuntime::new`] with another component binary (tests).
    pub fn with_component(config: RuntimeConfig, wasm: &[u8]) -> wasmtime::Result<Self> {
        let link = |linker: &mut Linker<CallData>| Service::add_to_linker::<_, HasSelf<_>>(linker, |d| d);
        Ok(Self { inner: Arc::new(Loaded::load(config, wasm, link, ServicePre::new)?) })
    }

    /// Whether the component came from the artifact cache.
    pub fn origin(&self) -> Origin {
        self.inner.origin
    }

    /// `workflow.start-job` in a fresh instance.
    pub async fn start_job(
        &self,
        services: Arc<Services>,
        job: JobContext,
        request: Vec<u8>,
        limits: bindings::exports::sealmail::mail::validation::Limits,
        policy: Policy,
    ) -> Result<Called<StartOutcome>, CallError> {
        // The decrypted request (attachments) is wiped when the call is done; the copy in the
        // instance's memory goes with the instance, unwiped (docs/service.md).
        let request = zeroize::Zeroizing::new(request);
        self.call(services, async move |service, store| {
            service.sealmail_mail_workflow().call_start_job(store, &job, &request, limits, &policy).await
        })
        .await
    }

    /// `workflow.deliver` in a fresh instance.
    pub async fn deliver(
        &self,
        services: Arc<Services>,
        message: MessageState,
        policy: Policy,
    ) -> Result<Called<DeliverOutcome>, CallError> {
        self.call(services, async move |service, store| {
            service.sealmail_mail_workflow().call_deliver(store, &message, &policy).await
        })
        .await
    }

    async fn call<T, F>(&self, services: Arc<Services>, f: F) -> Result<Called<T>, CallError>
    where
        F: AsyncFnOnce(&Service, &mut wasmtime::Store<CallData>) -> wasmtime::Result<Result<T, WorkflowError>>,
    {
        let config = &self.inner.config;
        let host = CallHost { services, effects: Effects::default(), failure: None };
        let mut store = runtime::new_store(&self.inner.engine, config, host);
        let service = self.inner.pre.instantiate_async(&mut store).await.map_err(|e| {
            match runtime::classify(config, &store, e) {
                CallError::Trap(why) => CallError::Instantiate(why),
                other => other,
            }
        })?;
        runtime::reset_budget(&mut store, config);
        let result = f(&service, &mut store).await.map_err(|e| runtime::classify(config, &store, e))?;
        let host = &mut store.data_mut().host;
        Ok(Called { result, effects: std::mem::take(&mut host.effects), failure: host.failure.take() })
    }
}
