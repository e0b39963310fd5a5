//! `cargo xtask modules`: the module graph of every crate in the workspace, and the check
//! that no crate's modules import each other in a cycle spanning more than two files.
//!
//! A module depends on another when its code (test modules excluded) names something in it:
//! a `use` of it, or a `crate::`/`super::`/`self::` path or a child module's path in code or
//! in a macro's tokens. A `pub use` is a facade, not a dependency: a path through it is
//! followed to the module that defines the item. Two modules that use each other are allowed
//! (a parent and the child it delegates to); three or more in one cycle are a tangle that
//! should be cut.
//!
//! It reads sources with `syn` and never compiles anything, so it runs in seconds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// The largest number of modules allowed in one import cycle.
const MAX_CYCLE: usize = 2;

/// Checks every target of every workspace package and prints one line per crate.
pub fn check(root: &Path) -> Result<()> {
    let mut tangled = Vec::new();
    for (name, src) in targets(root)? {
        let crate_ = Crate::read(&src).with_context(|| format!("reading {name} ({})", src.display()))?;
        let graph = crate_.graph();
        let cycles = strongly_connected(&graph);
        let largest = cycles.iter().map(Vec::len).max().unwrap_or(1);
        let shown = src.strip_prefix(root).unwrap_or(&src).display().to_string();
        eprintln!("{name:<40} {:>3} modules, largest cycle {largest} file(s)  ({shown})", crate_.modules.len());
        for cycle in cycles.into_iter().filter(|c| c.len() > MAX_CYCLE) {
            // The edges inside the cycle, so the message says which uses to cut.
            let inside: Vec<String> = cycle
                .iter()
                .flat_map(|from| {
                    let edges = &graph[key(from)];
                    cycle.iter().filter(|to| edges.contains(key(to))).map(move |to| format!("{from} → {to}"))
                })
                .collect();
            tangled.push(format!("{name}: {}\n    ({})", cycle.join(", "), inside.join("; ")));
        }
    }
    if !tangled.is_empty() {
        bail!(
            "module cycles spanning more than {MAX_CYCLE} files (move what they share into a module of its own):\n  {}",
            tangled.join("\n  ")
        );
    }
    Ok(())
}

/// The graph's name of a module as [`strongly_connected`] prints it.
fn key(shown: &str) -> &str {
    if shown == "<root>" { "" } else { shown }
}

/// Every lib, bin, test and bench target of the workspace's packages: (name, root file).
fn targets(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let output = std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root)
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let mut targets = Vec::new();
    for package in metadata["packages"].as_array().context("cargo metadata: no packages")? {
        let package_name = package["name"].as_str().unwrap_or_default();
        for target in package["targets"].as_array().into_iter().flatten() {
            let kinds: Vec<&str> = target["kind"].as_array().into_iter().flatten().filter_map(|k| k.as_str()).collect();
            if kinds.contains(&"custom-build") {
                continue;
            }
            let name = target["name"].as_str().unwrap_or_default();
            let label = if name.replace('_', "-") == package_name {
                package_name.to_owned()
            } else {
                format!("{package_name} ({name})")
            };
            targets.push((label, PathBuf::from(target["src_path"].as_str().context("target without src_path")?)));
        }
    }
    targets.sort();
    Ok(targets)
}

/// One module: its path in the crate (`""` for the root), what it imports and names.
#[derive(Default)]
struct Module {
    /// `use` items that are not `pub`: (path, the name they bind).
    imports: Vec<Vec<String>>,
    /// `pub use` items: bound name → path, for following re-exports.
    reexports: BTreeMap<String, Vec<String>>,
    /// Paths named in code and macro tokens, as segments.
    paths: Vec<Vec<String>>,
    /// Child modules declared here.
    children: BTreeSet<String>,
}

struct Crate {
    modules: BTreeMap<String, Module>,
}

impl Crate {
    fn read(root: &Path) -> Result<Self> {
        let mut modules = BTreeMap::new();
        let mut pending = vec![(String::new(), root.to_path_buf(), true)];
        while let Some((name, file, owns_dir)) = pending.pop() {
            let source = std::fs::read_to_string(&file).with_context(|| file.display().to_string())?;
            let parsed = syn::parse_file(&source).with_context(|| format!("{}: cannot parse", file.display()))?;
            let mut module = Module::default();
            collect(&parsed.items, &mut module);
            let dir = if owns_dir { file.parent().unwrap().to_path_buf() } else { file.with_extension("") };
            for child in &module.children {
                let full = if name.is_empty() { child.clone() } else { format!("{name}::{child}") };
                let flat = dir.join(format!("{child}.rs"));
                let nested = dir.join(child).join("mod.rs");
                if flat.exists() {
                    pending.push((full, flat, false));
                } else if nested.exists() {
                    pending.push((full, nested, true));
                } else {
                    bail!("{}: module `{child}` has no file", file.display());
                }
            }
            modules.insert(name, module);
        }
        Ok(Self { modules })
    }

    /// Module → the modules it depends on.
    fn graph(&self) -> BTreeMap<&str, BTreeSet<&str>> {
        let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (name, module) in &self.modules {
            let edges = graph.entry(name.as_str()).or_default();
            // A name a module re-exports and also uses itself is a dependency too.
            let used_reexports = module
                .reexports
                .iter()
                .filter(|(bound, _)| module.paths.iter().any(|p| p.first() == Some(bound)))
                .map(|(_, path)| path);
            for path in module.imports.iter().chain(&module.paths).chain(used_reexports) {
                if let Some(target) = self.resolve(name, path, 0)
                    && target != name.as_str()
                {
                    edges.insert(target);
                }
            }
        }
        graph
    }

    /// The module that defines what `path`, written in module `from`, names; `None` when it
    /// leads outside the crate.
    fn resolve(&self, from: &str, path: &[String], depth: usize) -> Option<&str> {
        let here: Vec<&str> = if from.is_empty() { Vec::new() } else { from.split("::").collect() };
        let (mut base, rest): (Vec<&str>, &[String]) = match path.first().map(String::as_str)? {
            "crate" => (Vec::new(), &path[1..]),
            "self" => (here.clone(), &path[1..]),
            "super" => {
                let ups = path.iter().take_while(|s| *s == "super").count();
                (here[..here.len().checked_sub(ups)?].to_vec(), &path[ups..])
            }
            // `child::item`; a lone `child` is more likely a variable of the same name.
            first if path.len() > 1 && self.modules[from].children.contains(first) => (here.clone(), path),
            _ => return None,
        };
        let mut consumed = 0;
        for segment in rest {
            let mut candidate = base.clone();
            candidate.push(segment);
            if self.modules.contains_key(&candidate.join("::")) {
                base = candidate;
                consumed += 1;
            } else {
                break;
            }
        }
        let (name, module) = self.modules.get_key_value(&base.join("::"))?;
        if let Some(item) = rest.get(consumed)
            && let Some(reexported) = module.reexports.get(item)
            && depth < 16
        {
            return self.resolve(name, reexported, depth + 1);
        }
        Some(name)
    }
}

/// Whether `attrs` hold `#[cfg(test)]` (test modules and items are not the crate's shape).
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg") && attr.parse_args::<syn::Meta>().is_ok_and(|meta| meta.path().is_ident("test"))
    })
}

fn collect(items: &[syn::Item], module: &mut Module) {
    for item in items {
        match item {
            syn::Item::Mod(m) if is_test(&m.attrs) => {}
            syn::Item::Mod(m) if m.content.is_none() => {
                module.children.insert(m.ident.to_string());
            }
            // An inline module's code counts as its parent's.
            syn::Item::Mod(m) => collect(&m.content.as_ref().unwrap().1, module),
            syn::Item::Use(u) if is_test(&u.attrs) => {}
            syn::Item::Use(u) => {
                let public = !matches!(u.vis, syn::Visibility::Inherited);
                for (path, bound) in use_paths(&u.tree, Vec::new()) {
                    if public {
                        module.reexports.insert(bound, path);
                    } else {
                        module.imports.push(path);
                    }
                }
            }
            other if is_test(item_attrs(other)) => {}
            other => Paths(module).visit_item(other),
        }
    }
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        _ => &[],
    }
}

/// A `use` tree flattened: each leaf's full path and the name it binds (`*` for a glob).
fn use_paths(tree: &syn::UseTree, prefix: Vec<String>) -> Vec<(Vec<String>, String)> {
    let extend = |segment: String| {
        let mut path = prefix.clone();
        path.push(segment);
        path
    };
    match tree {
        syn::UseTree::Path(p) => use_paths(&p.tree, extend(p.ident.to_string())),
        syn::UseTree::Name(n) if n.ident == "self" => {
            let bound = prefix.last().cloned().unwrap_or_default();
            vec![(prefix, bound)]
        }
        syn::UseTree::Name(n) => vec![(extend(n.ident.to_string()), n.ident.to_string())],
        syn::UseTree::Rename(r) => vec![(extend(r.ident.to_string()), r.rename.to_string())],
        syn::UseTree::Glob(_) => vec![(prefix, "*".to_owned())],
        syn::UseTree::Group(g) => g.items.iter().flat_map(|t| use_paths(t, prefix.clone())).collect(),
    }
}

/// Collects the paths an item's code names, including those inside macro invocations.
struct Paths<'m>(&'m mut Module);

impl<'ast> Visit<'ast> for Paths<'_> {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.0.paths.push(path.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        macro_paths(mac.tokens.clone(), &mut self.0.paths);
        syn::visit::visit_macro(self, mac);
    }

    /// `pub(super)` and `pub(crate)` say who may see an item, not what it uses.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_test(&m.attrs) {
            syn::visit::visit_item_mod(self, m);
        }
    }
}

/// `a::b::c` sequences in a macro's tokens (format arguments, `matches!` patterns, …).
fn macro_paths(tokens: TokenStream, out: &mut Vec<Vec<String>>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Group(group) => macro_paths(group.stream(), out),
            TokenTree::Ident(ident) => {
                let mut path = vec![ident.to_string()];
                let mut j = i + 1;
                while let (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)), Some(TokenTree::Ident(next))) =
                    (tokens.get(j), tokens.get(j + 1), tokens.get(j + 2))
                {
                    if a.as_char() != ':' || b.as_char() != ':' {
                        break;
                    }
                    path.push(next.to_string());
                    j += 3;
                }
                if path.len() > 1 {
                    out.push(path);
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
}

/// The strongly connected components of `graph` (Tarjan), each sorted, the root shown as
/// `<root>`.
fn strongly_connected(graph: &BTreeMap<&str, BTreeSet<&str>>) -> Vec<Vec<String>> {
    struct Tarjan<'g> {
        graph: &'g BTreeMap<&'g str, BTreeSet<&'g str>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        components: Vec<Vec<String>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for &w in self.graph.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(if w.is_empty() { "<root>".to_owned() } else { w.to_owned() });
                    if w == v {
                        break;
                    }
                }
                component.sort();
                self.components.push(component);
            }
        }
    }
    let mut tarjan = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for &v in graph.keys() {
        if !tarjan.index.contains_key(v) {
            tarjan.visit(v);
        }
    }
    tarjan.components
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crate_of(files: &[(&str, &str)]) -> (tempdir::Dir, PathBuf) {
        let dir = tempdir::Dir::new();
        for (path, source) in files {
            let path = dir.0.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, source).unwrap();
        }
        let root = dir.0.join("lib.rs");
        (dir, root)
    }

    /// A throwaway directory under the target directory (xtask has no tempfile dependency).
    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
                let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let path = std::env::temp_dir().join(format!("xtask-modules-{}-{n}", std::process::id()));
                let _ = std::fs::remove_dir_all(&path);
                std::fs::create_dir_all(&path).unwrap();
                Self(path)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn cycles(files: &[(&str, &str)]) -> Vec<Vec<String>> {
        let (_dir, root) = crate_of(files);
        let crate_ = Crate::read(&root).unwrap();
        strongly_connected(&crate_.graph()).into_iter().filter(|c| c.len() > 1).collect()
    }

    #[test]
    fn a_three_module_cycle_is_found_through_uses_paths_and_macros() {
        let found = cycles(&[
            ("lib.rs", "mod a; mod b; mod c; pub use a::A;"),
            ("a.rs", "use crate::b::B; pub struct A(B);"),
            ("b.rs", "pub struct B; fn f() { crate::c::g(); }"),
            ("c.rs", "pub fn g() { println!(\"{}\", super::a::A(crate::b::B).0 as usize); }"),
        ]);
        assert_eq!(found, vec![vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]]);
    }

    #[test]
    fn re_exports_are_followed_and_tests_do_not_count() {
        // `c` names `crate::A`, which the root re-exports from `a`: an edge c → a, not
        // c → root. The root's own test module uses everything; it does not count.
        let found = cycles(&[
            ("lib.rs", "mod a; mod c; pub use a::A; #[cfg(test)] mod tests { use super::c::g; }"),
            ("a.rs", "pub struct A;"),
            ("c.rs", "pub fn g() -> crate::A { crate::A }"),
        ]);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn visibility_is_not_a_use() {
        assert!(
            cycles(&[
                ("lib.rs", "mod a; mod b; mod c; pub struct Root(a::A);"),
                ("a.rs", "pub(crate) struct A(pub(super) super::b::B);"),
                ("b.rs", "pub(crate) struct B(pub(in crate) super::c::C);"),
                ("c.rs", "pub(crate) struct C;"),
            ])
            .is_empty()
        );
    }

    #[test]
    fn a_parent_and_its_child_may_use_each_other() {
        let found = cycles(&[
            ("lib.rs", "mod store; pub struct Key;"),
            ("store/mod.rs", "mod sqlite; pub struct Store(sqlite::Db);"),
            ("store/sqlite.rs", "pub struct Db(super::Store, crate::Key);"),
        ]);
        assert_eq!(found, vec![vec!["store".to_owned(), "store::sqlite".to_owned()]]);
    }
}
