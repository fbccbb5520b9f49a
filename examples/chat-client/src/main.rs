//! switchyard-chat: example client (in progress: see the open issue).
fn main() {
    eprintln!("switchyard-chat: not built yet");
    std::process::exit(2);
}
