//! switchyard-files: example client (in progress: see the open issue).
fn main() {
    eprintln!("switchyard-files: not built yet");
    std::process::exit(2);
}
