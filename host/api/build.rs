//! Lists the browser preview's files (`web/dist/preview/`, from `cargo xtask build-web`) for
//! `include_bytes!`: an unbuilt preview is an empty list, and the server says how to build it.

use std::path::PathBuf;

fn main() {
    let root =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("../..");
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
