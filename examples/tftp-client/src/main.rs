//! switchyard-tftp: example client (in progress: see the open issue).
fn main() {
    eprintln!("switchyard-tftp: not built yet");
    std::process::exit(2);
}
