//! The one place that generates host bindings from `wit/`: one `bindgen!` per world.
//!
//! [`library`] is the pure world (validation, passwords, sealing). [`service`] includes it
//! and adds the workflow export and the host's capabilities; its `library` interfaces are
//! taken from [`library`] (`with:`), so a `Limits` or a `Problem` is the same Rust type
//! whichever world it came from. Every export is called asynchronously (one engine
//! configuration for both worlds), and the service world's imports are async (they wait on
//! SMTP, clamd and the store, and that wait is not guest time) and trappable.

/// World `library`.
pub mod library {
    #![expect(missing_docs, reason = "generated code: its documentation is the WIT itself")]
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "library",
        exports: { default: async },
    });
}

/// World `service`.
pub mod service {
    #![expect(missing_docs, reason = "generated code: its documentation is the WIT itself")]
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "service",
        // Trappable: a host failure inside an import (the store cannot be read) ends the
        // call with an error the host recognises, instead of an answer the guest would act on.
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "sealmail:mail/validation": crate::bindings::validation,
            "sealmail:mail/password": crate::bindings::password,
            "sealmail:mail/archive": crate::bindings::archive,
        },
    });
}

pub use library::exports::sealmail::mail::{archive, password, validation};
pub use service::exports::sealmail::mail::workflow;
pub use service::sealmail::mail::{antivirus, clock, delivery, notifier, transport};
