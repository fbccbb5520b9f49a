//! `admin` and `admin_token_env`: a token off loopback, read from the environment,
//! each problem reported where it is written.

use super::fake::{assert_at, compile_text, errors, pos};
use crate::topology::AdminToken;

/// A valid topology with `fields` at the top.
fn with(fields: &str) -> String {
    format!(
        "(\n    {fields}\n    listeners: {{ \"u\": (kind: udp, bind: \"127.0.0.1:0\") }},\n    handlers: {{ \"h\": (plugin: \"echo\") }},\n    routes: [(from: \"u\", to: \"h\")],\n)\n"
    )
}

#[test]
fn loopback_needs_no_token_and_a_named_variable_gives_one() {
    let t = compile_text(&with("admin: Some(\"127.0.0.1:9100\"),")).unwrap();
    assert_eq!(t.admin_token, None);
    // PATH is set in every test process: its value is the token.
    let text = with("admin: Some(\"0.0.0.0:9100\"), admin_token_env: Some(\"PATH\"),");
    let t = compile_text(&text).unwrap_or_else(|e| panic!("{e}"));
    let path = std::env::var("PATH").unwrap();
    assert_eq!(t.admin_token, Some(AdminToken(path.clone())));
    assert!(!format!("{t:?}").contains(&path), "the token never prints");
}

#[test]
fn off_loopback_without_a_token_is_refused_at_the_address() {
    let text = with("admin: Some(\"0.0.0.0:9100\"),");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e}");
    let d = e.iter().next().unwrap();
    assert!(d.message.contains("not on loopback and has no token"));
    assert_at(d, pos(&text, "Some(\"0.0.0.0"));
}

#[test]
fn a_variable_that_is_not_set_is_refused_where_it_is_named() {
    let text =
        with("admin: Some(\"127.0.0.1:9100\"), admin_token_env: Some(\"SY_SURELY_NOT_SET_7F3A\"),");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e}");
    let d = e.iter().next().unwrap();
    assert!(d.message.contains("SY_SURELY_NOT_SET_7F3A"));
    assert_at(d, pos(&text, "Some(\"SY_SURELY"));
}
