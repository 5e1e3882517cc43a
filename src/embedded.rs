//! The operators' files and the configuration as shipped, built into the binary
//! (`build.rs` lists the folders), so `xiaoer` runs with zero setup.

use crate::error::Result;
use crate::files::Sources;

mod files {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// The default configuration file, as shipped.
pub const DEFAULT_CONFIG: &str = files::CONFIG;

/// The intent and reply files built into the binary, parsed.
pub fn sources() -> Result<Sources> {
    let own = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    };
    Sources::parse(&own(files::INTENTS), &own(files::REPLIES))
}

/// The demo shop's catalog (`demo/catalog/`), as `(name, text)` pairs: what
/// `xiaoer demo` answers product questions from when no catalog is configured.
pub fn demo_catalog() -> Vec<(String, String)> {
    files::CATALOG
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}
