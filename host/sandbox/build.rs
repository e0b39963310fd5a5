//! Locates the `library` component for `include_bytes!`: `cargo xtask build-guest` leaves it
//! in `target/components/library.wasm`. It does not build it: a build script that runs cargo
//! deadlocks on the target directory's lock, so every xtask command builds the guest before
//! the host. `SEALMAIL_GUEST_WASM` points at another build.

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-env-changed=CARGO_TARGET_DIR");
    println!("cargo::rerun-if-env-changed=SEALMAIL_GUEST_WASM");
    let root =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let path = std::env::var_os("SEALMAIL_GUEST_WASM")
        .map_or_else(|| target.join("components").join("library.wasm"), PathBuf::from);
    println!("cargo::rerun-if-changed={}", path.display());
    if !path.is_file() {
        panic!(
            "the sealmail library component is missing at {}.\nBuild it first: `cargo xtask build-guest` \
             (every `cargo xtask` command does this), or point SEALMAIL_GUEST_WASM at a built component.",
            path.display()
        );
    }
    println!("cargo::rustc-env=SEALMAIL_GUEST_WASM_PATH={}", path.canonicalize().unwrap_or(path).display());
}
