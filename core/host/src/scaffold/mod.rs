//! `switchyard new-plugin`: a plugin crate (or C file and Makefile) that builds, with a
//! config struct, a typed port, MockHost tests and a sample topology — the shortest way
//! from nothing to a loaded plugin, like `cargo new` for this host.
//!
//! The templates live next to this file (`rust/`, `c/`) as the files they become, with
//! `{{name}}` (the plugin's name), `{{crate}}` (its library stem), `{{sdk}}` (the Cargo
//! dependency on the SDK) and `{{include}}` (the C headers' directory) filled in.

use std::path::{Path, PathBuf};

/// The language of the plugin to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    C,
}

/// What `new-plugin` was asked for.
#[derive(Debug)]
pub struct Options {
    pub name: String,
    pub lang: Lang,
    /// Where to write it; `./NAME` by default.
    pub dir: Option<PathBuf>,
    /// The SDK's source directory (`core/sdk`); by default the one this host was built
    /// from, when it is still there.
    pub sdk: Option<PathBuf>,
}

/// The SDK this binary was built from: right for a host built from a checkout.
const BUILT_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk");

const RUST: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("rust/Cargo.toml.tmpl")),
    ("src/lib.rs", include_str!("rust/lib.rs.tmpl")),
    ("topology.ron", include_str!("rust/topology.ron.tmpl")),
    ("README.md", include_str!("rust/README.md.tmpl")),
];

const C: &[(&str, &str)] = &[
    ("{{name}}.c", include_str!("c/plugin.c.tmpl")),
    ("Makefile", include_str!("c/Makefile.tmpl")),
    ("topology.ron", include_str!("c/topology.ron.tmpl")),
    ("README.md", include_str!("c/README.md.tmpl")),
];

/// Why a plugin cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "`{0}` cannot name a plugin: use 1 to 64 lower-case letters, digits, `-` or `_`, starting with a letter"
    )]
    BadName(String),
    #[error("{0} exists and is not empty: choose another --dir")]
    NotEmpty(PathBuf),
    #[error(
        "the switchyard-sdk sources are not at {0} (this host was built elsewhere): pass --sdk PATH to a checkout's core/sdk"
    )]
    NoSdk(PathBuf),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Whether `name` is a plugin name: also a Cargo package name and a C identifier stem.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Write the plugin; returns its directory and the files written.
pub fn write(opts: &Options) -> Result<(PathBuf, Vec<PathBuf>), ScaffoldError> {
    if !valid_name(&opts.name) {
        return Err(ScaffoldError::BadName(opts.name.clone()));
    }
    let dir = opts
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&opts.name));
    if std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(ScaffoldError::NotEmpty(dir));
    }
    let sdk = opts.sdk.clone().unwrap_or_else(|| PathBuf::from(BUILT_SDK));
    let sdk = sdk
        .canonicalize()
        .ok()
        .filter(|p| p.join("include/switchyard.h").is_file())
        .ok_or(ScaffoldError::NoSdk(sdk))?;
    let crate_name = opts.name.replace('-', "_");
    let fill = |text: &str| {
        text.replace("{{name}}", &opts.name)
            .replace("{{crate}}", &crate_name)
            .replace(
                "{{sdk}}",
                &format!("{{ path = {:?} }}", sdk.display().to_string()),
            )
            .replace("{{include}}", &sdk.join("include").display().to_string())
    };
    let templates = match opts.lang {
        Lang::Rust => RUST,
        Lang::C => C,
    };
    let mut written = Vec::new();
    for (file, text) in templates {
        let path = dir.join(fill(file));
        write_file(&path, &fill(text))?;
        written.push(path);
    }
    Ok((dir, written))
}

fn write_file(path: &Path, text: &str) -> Result<(), ScaffoldError> {
    let fail = |source| ScaffoldError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(path, text).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_placeholders_all_filled() {
        for bad in ["", "Kv", "1kv", "kv store", "kv.so", &"k".repeat(65)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        assert!(valid_name("kv-store_2"));
        for lang in [Lang::Rust, Lang::C] {
            let dir = tempfile::tempdir().unwrap();
            let opts = Options {
                name: "kv-store".into(),
                lang,
                dir: Some(dir.path().join("p")),
                sdk: None,
            };
            let (_, files) = write(&opts).unwrap();
            for f in &files {
                let text = std::fs::read_to_string(f).unwrap();
                assert!(!text.contains("{{"), "{} keeps a placeholder", f.display());
                assert!(!f.display().to_string().contains("{{"), "{}", f.display());
            }
            let again = write(&opts).unwrap_err();
            assert!(matches!(again, ScaffoldError::NotEmpty(_)), "{again}");
        }
    }
}
