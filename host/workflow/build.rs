//! Locates the `service` component (the guest crate built with its `service` feature) for
//! `include_bytes!`: `cargo xtask build-guest` leaves it in `target/components/service.wasm`.
//! It does not build it: a build script that runs cargo deadlocks on the target directory's
//! lock, so every xtask command builds the guest before the host. `SEALMAIL_SERVICE_WASM`
//! points at another build.

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-env-changed=CARGO_TARGET_DIR");
    println!("cargo::rerun-if-env-changed=SEALMAIL_SERVICE_WASM");
    let root =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let path = std::env::var_os("SEALMAIL_SERVICE_WASM")
        .map_or_else(|| target.join("components").join("service.wasm"), PathBuf::from);
    println!("cargo::rerun-if-changed={}", path.display());
    if !path.is_file() {
        panic!(
            "the sealmail service component is missing at {}.\nBuild it first: `cargo xtask build-guest` \
             (every `cargo xtask` command does this), or point SEALMAIL_SERVICE_WASM at a built component.",
            path.display()
        );
    }
    println!("cargo::rustc-env=SEALMAIL_SERVICE_WASM_PATH={}", path.canonicalize().unwrap_or(path).display());
}
