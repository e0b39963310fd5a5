//! Locates the two guest components for `include_bytes!`: the `library` world and the
//! `service` world (the same crate built with the `service` feature), which
//! `cargo xtask build-guest` leaves in `target/components/`. It does not build them: a build script that runs cargo deadlocks on the
//! target-directory lock, so `cargo xtask build-guest` (run by every xtask command) builds
//! the guest before the host.

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-env-changed=CARGO_TARGET_DIR");
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    locate("SEALMAIL_GUEST_WASM", "SEALMAIL_GUEST_WASM_PATH", target.join("components").join("library.wasm"));
    locate("SEALMAIL_SERVICE_WASM", "SEALMAIL_SERVICE_WASM_PATH", target.join("components").join("service.wasm"));
}

fn locate(override_var: &str, out_var: &str, default: PathBuf) {
    println!("cargo::rerun-if-env-changed={override_var}");
    let path = std::env::var_os(override_var).map_or(default, PathBuf::from);
    println!("cargo::rerun-if-changed={}", path.display());
    if !path.is_file() {
        panic!(
            "a sealmail component is missing at {}.\nBuild it first: `cargo xtask build-guest` \
             (every `cargo xtask` command does this), or point {override_var} at a built component.",
            path.display()
        );
    }
    println!("cargo::rustc-env={out_var}={}", path.canonicalize().unwrap_or(path).display());
}
