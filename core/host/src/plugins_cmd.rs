//! `switchyard plugins`: what plugin lookup would find, and why a file is refused.

use std::process::ExitCode;

use switchyard_runtime::catalog::{Catalog, Discovered, HOST_ABI_VERSION};
use switchyard_runtime::topology::{self, PluginCatalog};

use crate::EXIT_CONFIG;

/// `switchyard plugins`: every library lookup could load, under the name it would be
/// found by, and those the topology names. Exit 78 only when a plugin the topology
/// names is refused (each is listed with its reason), so the command still shows what
/// is there when a topology does not compile.
pub fn run(config: Option<&std::path::Path>, catalog: &Catalog) -> ExitCode {
    let lookup = match config {
        Some(path) => match topology::load(path) {
            Ok(src) => {
                let cwd = std::env::current_dir().unwrap_or_default();
                topology::plugin_lookup(&src, &cwd)
            }
            Err(errors) => {
                eprintln!("{}", topology::render(&errors, false));
                return ExitCode::from(EXIT_CONFIG);
            }
        },
        None => topology::PluginLookup::default(),
    };
    println!("host ABI {HOST_ABI_VERSION}");
    println!(
        "{:<16} {:<10} {:<4} {:<8} {:<8} PATH",
        "NAME", "VERSION", "ABI", "STORAGE", "WORKERS"
    );
    let mut found = catalog.discover(&lookup.dirs);
    let mut refused_named = Vec::new();
    for (name, explicit) in &lookup.named {
        match catalog.describe(name, explicit.as_deref(), &lookup.dirs) {
            Ok(desc) => {
                let key = desc.path.canonicalize().unwrap_or(desc.path);
                if !found.iter().any(|d| d.path == key) {
                    let result = catalog.load(&key);
                    found.push(Discovered {
                        path: key,
                        name: name.clone(),
                        result,
                    });
                }
            }
            Err(problem) => {
                if let Some(path) = explicit
                    && !found.iter().any(|d| d.path == *path)
                {
                    let result = Err(problem.clone());
                    found.push(Discovered {
                        path: path.clone(),
                        name: name.clone(),
                        result,
                    });
                }
                refused_named.push((name, problem));
            }
        }
    }
    for d in &found {
        match &d.result {
            Ok(p) => {
                let i = p.info();
                // Served: peers read the handler's root; private: only the plugin.
                let storage = if i.storage == switchyard_sdk::abi::SY_STORAGE_PRIVATE {
                    "private"
                } else {
                    "served"
                };
                // How many workers a handler may run: one, or any number sharded by
                // connection/peer address or by peer IP.
                let workers = match i.sharding {
                    switchyard_sdk::abi::SY_SHARD_ANY => "any",
                    switchyard_sdk::abi::SY_SHARD_PEER_IP => "by-ip",
                    _ => "1",
                };
                // A file lookup finds under another name than the plugin declares
                // (`libkv.so` declaring `keyvalue`) is found, then refused by name.
                let aside = if d.name.replace('-', "_") == i.name.replace('-', "_") {
                    String::new()
                } else {
                    format!(" (found as `{}`, which it does not declare)", d.name)
                };
                println!(
                    "{:<16} {:<10} {:<4} {:<8} {:<8} {}{aside}",
                    i.name,
                    i.version,
                    i.abi_version,
                    storage,
                    workers,
                    d.path.display()
                );
            }
            Err(problem) => println!(
                "{:<16} {:<10} {:<4} {:<8} {:<8} {} ({})",
                "-",
                "-",
                "-",
                "-",
                "-",
                d.path.display(),
                problem.reason
            ),
        }
    }
    for (name, problem) in &refused_named {
        eprintln!(
            "switchyard: plugin `{name}` named by the topology: {}",
            problem.reason
        );
    }
    if refused_named.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CONFIG)
    }
}
