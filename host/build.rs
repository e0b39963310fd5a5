//! Locates the two guest components for `include_bytes!`: the `library` world and the
//! `service` world (the same crate built with the `service` feature), which
//! `cargo xtask build-guest` leaves in `target/components/`; and lists the browser preview's
//! files (`web/dist/preview/`, from `cargo xtask build-web`) for `include_bytes!` — an
//! unbuilt preview is an empty list, and the server says how to build it. It does not build them: a build script that runs cargo deadlocks on the
//! target-directory lock, so `cargo xtask build-guest` (run by every xtask command) builds
//! the guest before the host.

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-env-changed=CARGO_TARGET_DIR");
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    locate("SEALMAIL_GUEST_WASM", "SEALMAIL_GUEST_WASM_PATH", target.join("components").join("library.wasm"));
    locate("SEALMAIL_SERVICE_WASM", "SEALMAIL_SERVICE_WASM_PATH", target.join("components").join("service.wasm"));
    preview_assets(&root.join("web").join("dist").join("preview"));
}

/// Writes `$OUT_DIR/preview_assets.rs`: `PREVIEW_ASSETS`, every file under `dir` as
/// (path relative to `dir` with `/` separators, bytes).
fn preview_assets(dir: &std::path::Path) {
    println!("cargo::rerun-if-changed={}", dir.display());
    let mut files = Vec::new();
    collect(dir, dir, &mut files);
    files.sort();
    let mut code = String::from(
        "/// The preview's files: (path under /preview/, bytes).\npub static PREVIEW_ASSETS: &[(&str, &[u8])] = &[\n",
    );
    for (relative, path) in &files {
        println!("cargo::rerun-if-changed={}", path.display());
        code.push_str(&format!("    ({relative:?}, include_bytes!({:?})),\n", path.display().to_string()));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("preview_assets.rs");
    std::fs::write(out, code).expect("writing preview_assets.rs");
}

fn collect(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            println!("cargo::rerun-if-changed={}", path.display());
            collect(root, &path, out);
        } else if let Ok(relative) = path.strip_prefix(root) {
            let relative = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            out.push((relative, path.canonicalize().unwrap_or(path)));
        }
    }
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
