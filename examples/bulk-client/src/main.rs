//! switchyard-bulk: example client (in progress: see the open issue).
fn main() {
    eprintln!("switchyard-bulk: not built yet");
    std::process::exit(2);
}
