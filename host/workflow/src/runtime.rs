//! The `service` world in wasmtime: the workflow component with the host's capabilities
//! linked in (one module per imported interface, in [`crate::capabilities`]).
//!
//! Every workflow call gets a fresh instance in a fresh store (nothing leaks from one job to
//! the next), the sandbox's memory limit, and a CPU budget that counts guest time only:
//! the imports add the time they wait on SMTP, clamd and the store to the store's
//! [`GuestClock`](sealmail_sandbox::runtime::GuestClock), which the epoch deadline gives
//! back. What the call asked the host to do is buffered in [`CallHost::effects`] and
//! returned to the caller, which commits it together with the call's result.

use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use sealmail_clamav::Scanners;
use sealmail_core::bindings::service::{Service, ServicePre};
use sealmail_core::bindings::validation::Limits;
use sealmail_core::bindings::workflow::{
    BounceReport, CallFailure, DeliverOutcome, JobContext, JobRecipient, LateBounceOutcome, MessageState, Policy,
    StartOutcome, StartRecovery, WorkflowError,
};
use sealmail_sandbox::component_cache::Origin;
use sealmail_sandbox::runtime::GuestClock;
use sealmail_sandbox::{CallError, Sandbox, StoreData};
use sealmail_smtp::{DkimSigners, Transport};
use sealmail_store::{Effects, Store};

/// The `service` component, built by `cargo xtask build-guest` (see `build.rs`).
pub static SERVICE_COMPONENT_WASM: &[u8] = include_bytes!(env!("SEALMAIL_SERVICE_WASM_PATH"));

/// What the imports act on, shared by all calls.
pub struct Services {
    /// The job store.
    pub store: Arc<dyn Store>,
    /// Where mail goes.
    pub transport: Transport,
    /// DKIM keys; every message is offered to them before it goes.
    pub dkim: DkimSigners,
    /// The virus scanners (none configured: `None`).
    pub scanners: Option<Scanners>,
    /// Send unscanned when no scanner is configured (recorded as an event).
    pub allow_insecure_no_antivirus: bool,
    /// With `[bounces] verp_domain`: every message's envelope sender becomes its VERP address.
    pub verp: Option<sealmail_bounces::Verp>,
}

/// Per-call host state.
pub struct CallHost {
    /// Shared capabilities.
    pub services: Arc<Services>,
    /// What the call asked for, to commit with its result.
    pub effects: Effects,
}

/// The store data of a workflow call.
pub type CallData = StoreData<CallHost>;

/// What the imports see of a call's store: the call's host state, and the guest clock they
/// give their waiting time back to. (The WASI idiom: a view borrowed from the store data.)
pub struct Capabilities<'a> {
    /// The call's host state.
    pub(crate) host: &'a mut CallHost,
    /// The call's guest-time accounting.
    pub(crate) clock: &'a mut GuestClock,
}

/// [`HasData`] for the imports: a call's [`Capabilities`].
struct CapabilitiesOf;

impl HasData for CapabilitiesOf {
    type Data<'a> = Capabilities<'a>;
}

/// A finished workflow call: its result and what it asked the host to do.
#[derive(Debug)]
pub struct Called<T> {
    /// The workflow's answer.
    pub result: T,
    /// Buffered writes.
    pub effects: Effects,
}

/// The pre-linked service component in the process's [`Sandbox`]. Cheap to clone.
#[derive(Clone)]
pub struct ServiceRuntime {
    sandbox: Sandbox,
    pre: ServicePre<CallData>,
    origin: Origin,
}

impl ServiceRuntime {
    /// Loads the embedded service component into `sandbox` (from the artifact cache when
    /// possible).
    pub fn new(sandbox: &Sandbox) -> wasmtime::Result<Self> {
        Self::with_component(sandbox, SERVICE_COMPONENT_WASM)
    }

    /// Like [`ServiceRuntime::new`] with another component binary (`[sandbox]
    /// service_component`, the hostile guest of the sandbox tests).
    pub fn with_component(sandbox: &Sandbox, wasm: &[u8]) -> wasmtime::Result<Self> {
        let link = |linker: &mut Linker<CallData>| {
            Service::add_to_linker::<_, CapabilitiesOf>(linker, |d| Capabilities {
                host: &mut d.host,
                clock: &mut d.clock,
            })
        };
        let (pre, origin) = sandbox.load(wasm, link, ServicePre::new)?;
        Ok(Self { sandbox: sandbox.clone(), pre, origin })
    }

    /// Whether the component came from the artifact cache.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// `workflow.start-job` in a fresh instance.
    pub async fn start_job(
        &self,
        services: Arc<Services>,
        job: JobContext,
        request: Vec<u8>,
        limits: Limits,
        policy: Policy,
    ) -> Result<Called<Result<StartOutcome, WorkflowError>>, CallError> {
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
    ) -> Result<Called<Result<DeliverOutcome, WorkflowError>>, CallError> {
        self.call(services, async move |service, store| {
            service.sealmail_mail_workflow().call_deliver(store, &message, &policy).await
        })
        .await
    }

    /// `workflow.recover-start`: what follows a `start-job` call that failed with
    /// `failure`, for the job's `recipients`.
    pub async fn recover_start(
        &self,
        services: Arc<Services>,
        job: JobContext,
        (recipients, secure): (Vec<JobRecipient>, bool),
        failure: CallFailure,
        policy: Policy,
    ) -> Result<Called<StartRecovery>, CallError> {
        self.call(services, async move |service, store| {
            service
                .sealmail_mail_workflow()
                .call_recover_start(store, &job, &recipients, secure, &failure, &policy)
                .await
        })
        .await
    }

    /// `workflow.recover-delivery`: when a message whose `deliver` call failed with
    /// `failure` is attempted again.
    pub async fn recover_delivery(
        &self,
        services: Arc<Services>,
        message: MessageState,
        failure: CallFailure,
        policy: Policy,
    ) -> Result<Called<u64>, CallError> {
        self.call(services, async move |service, store| {
            service.sealmail_mail_workflow().call_recover_delivery(store, &message, &failure, &policy).await
        })
        .await
    }

    /// `workflow.late-bounce`: what a bounce reported after delivery changes.
    pub async fn late_bounce(
        &self,
        services: Arc<Services>,
        report: BounceReport,
    ) -> Result<Called<LateBounceOutcome>, CallError> {
        self.call(services, async move |service, store| {
            service.sealmail_mail_workflow().call_late_bounce(store, &report).await
        })
        .await
    }

    async fn call<T, F>(&self, services: Arc<Services>, f: F) -> Result<Called<T>, CallError>
    where
        F: AsyncFnOnce(&Service, &mut wasmtime::Store<CallData>) -> wasmtime::Result<T>,
    {
        let host = CallHost { services, effects: Effects::default() };
        let mut store = self.sandbox.store(host);
        let service =
            self.pre.instantiate_async(&mut store).await.map_err(|e| self.sandbox.classify_instantiation(&store, e))?;
        self.sandbox.reset_budget(&mut store);
        let result = f(&service, &mut store).await.map_err(|e| self.sandbox.classify(&store, e))?;
        Ok(Called { result, effects: std::mem::take(&mut store.data_mut().host.effects) })
    }
}
