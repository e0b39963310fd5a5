//! Locates the guest component for `include_bytes!`. It does not build it: a build script
//! that runs cargo deadlocks on the target-directory lock, so `cargo xtask build-guest`
//! (run by every xtask command) builds the guest before the host.

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-env-changed=SEALMAIL_GUEST_WASM");
    println!("cargo::rerun-if-env-changed=CARGO_TARGET_DIR");
    let path = match std::env::var_os("SEALMAIL_GUEST_WASM") {
        Some(p) => PathBuf::from(p),
        None => {
            let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
                .join("..");
            let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
            target.join("wasm32-wasip2").join("guest").join("sealmail_guest.wasm")
        }
    };
    println!("cargo::rerun-if-changed={}", path.display());
    if !path.is_file() {
        panic!(
            "the sealmail component is missing at {}.\nBuild it first: `cargo xtask build-guest` \
             (every `cargo xtask` command does this), or point SEALMAIL_GUEST_WASM at a built component.",
            path.display()
        );
    }
    println!("cargo::rustc-env=SEALMAIL_GUEST_WASM_PATH={}", path.canonicalize().unwrap_or(path).display());
}
