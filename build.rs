//! Embeds the default intents, replies and configuration into the binary, so that
//! `xiaoer` runs with zero setup. The list of files is read from the folders here:
//! Rust code never lists intent ids.
use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let mut out = String::new();
    for (dir, name) in [
        ("intents", "INTENTS"),
        ("replies", "REPLIES"),
        ("demo/catalog", "CATALOG"),
    ] {
        println!("cargo:rerun-if-changed={dir}");
        let mut files: Vec<_> = std::fs::read_dir(Path::new(&root).join(dir))
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "toml"));
        files.sort();
        let _ = writeln!(out, "pub static {name}: &[(&str, &str)] = &[");
        for p in files {
            let file = format!("{dir}/{}", p.file_name().unwrap().to_string_lossy());
            let _ = writeln!(
                out,
                "    ({file:?}, include_str!({:?})),",
                p.display().to_string()
            );
        }
        out.push_str("];\n");
    }
    println!("cargo:rerun-if-changed=xiaoer.toml");
    let cfg = Path::new(&root).join("xiaoer.toml");
    let _ = writeln!(
        out,
        "pub static CONFIG: &str = include_str!({:?});",
        cfg.display().to_string()
    );
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("embedded.rs");
    std::fs::write(dest, out).unwrap();
}
