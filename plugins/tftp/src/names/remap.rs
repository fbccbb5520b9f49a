//! Remap rules: an ordered list that rewrites, passes or refuses a requested name,
//! modelled on tftpd-hpa's `-m` rule file (see `plugins/tftp/README.md` for how each
//! of its rule forms is written here).
//!
//! Every rule is tried in order on the name as the previous rules left it. A rule with
//! `replace` rewrites the first match (every match with `global`); `stop` ends the list
//! once the rule matched; `refuse` turns the request away with ERROR 2; `invert` makes
//! the rule apply when the regex does *not* match; `requests` limits it to reads or
//! writes. Each rule runs once (no restart, no repeat): a list always ends.
//!
//! A rule is compiled when the configuration is read, so a bad regex, a replacement
//! naming a group the regex lacks, or flags that cannot go together are reported at
//! the rule's place in the topology by `switchyard validate`.

use std::net::IpAddr;

use regex::{Captures, Regex, RegexBuilder};
use serde::{Deserialize, Deserializer};

use super::template::Template;
use crate::packet::RequestKind;

/// Which requests a rule applies to (tftpd-hpa's `G` and `P`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Requests {
    #[default]
    All,
    Read,
    Write,
}

impl Requests {
    fn covers(self, kind: RequestKind) -> bool {
        match self {
            Requests::All => true,
            Requests::Read => kind == RequestKind::Read,
            Requests::Write => kind == RequestKind::Write,
        }
    }
}

/// A rule as written in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleText {
    /// The regular expression (Rust `regex` syntax, close to egrep's).
    #[serde(rename = "match")]
    pub pattern: String,
    /// What replaces the match (tftpd-hpa's `r`).
    #[serde(default, deserialize_with = "some_string")]
    pub replace: Option<String>,
    /// Replace every match, not only the first (tftpd-hpa's `g`).
    #[serde(default)]
    pub global: bool,
    /// Match regardless of case (`i`).
    #[serde(default)]
    pub case_insensitive: bool,
    /// No rule after this one runs if it matched (`e`).
    #[serde(default)]
    pub stop: bool,
    /// Refuse the request with ERROR 2 if it matched (`a`).
    #[serde(default)]
    pub refuse: bool,
    /// Apply when the regex does not match (`~`).
    #[serde(default)]
    pub invert: bool,
    #[serde(default)]
    pub requests: Requests,
}

/// `replace: "text"` (not `Some("text")`): an absent field is `None`.
fn some_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

/// One compiled rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RuleText")]
pub struct RemapRule {
    text: RuleText,
    regex: Regex,
    template: Option<Template>,
}

impl PartialEq for RemapRule {
    fn eq(&self, other: &RemapRule) -> bool {
        self.text == other.text
    }
}

impl Eq for RemapRule {}

impl TryFrom<RuleText> for RemapRule {
    type Error = String;

    fn try_from(text: RuleText) -> Result<RemapRule, String> {
        let regex = RegexBuilder::new(&text.pattern)
            .case_insensitive(text.case_insensitive)
            .build()
            .map_err(|e| bad_regex(&text.pattern, &e))?;
        let template = match &text.replace {
            Some(r) => Some(Template::parse(r, regex.captures_len() - 1)?),
            None => None,
        };
        let conflict = |a: &str, b: &str| Err(format!("`{a}` cannot be combined with `{b}`"));
        match &text {
            t if t.invert && t.replace.is_some() => return conflict("invert", "replace"),
            t if t.refuse && t.replace.is_some() => return conflict("refuse", "replace"),
            t if t.refuse && t.stop => return conflict("refuse", "stop (refusing stops)"),
            t if t.global && t.replace.is_none() => {
                return Err("`global` needs `replace`".into());
            }
            t if t.replace.is_none() && !t.stop && !t.refuse => {
                return Err("the rule does nothing: give it `replace`, `stop` or `refuse`".into());
            }
            _ => {}
        }
        Ok(RemapRule {
            text,
            regex,
            template,
        })
    }
}

/// The regex crate's message is several lines with a caret; the config error keeps
/// its last line, the reason.
fn bad_regex(pattern: &str, e: &regex::Error) -> String {
    let full = e.to_string();
    let reason = full
        .lines()
        .last()
        .unwrap_or("")
        .trim_start_matches("error: ");
    format!("bad regex {pattern:?} in `match`: {reason}")
}

/// Longest name a rule may produce: past it the request is refused, so that rules
/// that grow the name (`global` with a longer replacement, rule after rule) stay bounded.
pub const MAX_REMAPPED: usize = 4096;

/// Why the rules turned a request away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A `refuse` rule matched: its 1-based position in the list.
    ByRule(usize),
    /// A rule made the name longer than [`MAX_REMAPPED`]: its 1-based position.
    TooLong(usize),
}

/// Run `rules` on `name` for a `kind` request from `client`: the name to use.
pub fn apply(
    rules: &[RemapRule],
    kind: RequestKind,
    client: IpAddr,
    name: &str,
) -> Result<String, Refused> {
    let mut current = name.to_owned();
    for (i, rule) in rules.iter().enumerate() {
        let t = &rule.text;
        if !t.requests.covers(kind) || rule.regex.is_match(&current) == t.invert {
            continue;
        }
        if let Some(template) = &rule.template {
            let limit = if t.global { 0 } else { 1 };
            let replacer = |caps: &Captures<'_>| {
                let mut out = String::new();
                template.expand(caps, client, &mut out);
                out
            };
            current = rule.regex.replacen(&current, limit, replacer).into_owned();
            if current.len() > MAX_REMAPPED {
                return Err(Refused::TooLong(i + 1));
            }
        }
        if t.refuse {
            return Err(Refused::ByRule(i + 1));
        }
        if t.stop {
            break;
        }
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use switchyard_sdk::parse_config;

    use super::*;

    const READ: RequestKind = RequestKind::Read;
    const WRITE: RequestKind = RequestKind::Write;

    fn rules(text: &str) -> Vec<RemapRule> {
        parse_config(text).unwrap()
    }

    fn client() -> IpAddr {
        "192.0.2.169".parse().unwrap()
    }

    fn run(rules: &[RemapRule], name: &str) -> Result<String, Refused> {
        apply(rules, READ, client(), name)
    }

    #[test]
    fn replace_rewrites_the_first_match_and_global_every_one() {
        let first = rules(r#"[(match: r"\\", replace: "/")]"#);
        assert_eq!(run(&first, r"a\b\c").unwrap(), r"a/b\c");
        let every = rules(r#"[(match: r"\\", replace: "/", global: true)]"#);
        assert_eq!(
            run(&every, r"\boot\x64\wdsnbp.com").unwrap(),
            "/boot/x64/wdsnbp.com"
        );
        // Nothing matched: the name is left as it is.
        assert_eq!(run(&every, "plain").unwrap(), "plain");
    }

    #[test]
    fn capture_references_and_the_client_address() {
        let r = rules(r#"[(match: r"^pxelinux\.cfg/(.*)$", replace: r"hosts/\i/\1")]"#);
        assert_eq!(
            run(&r, "pxelinux.cfg/default").unwrap(),
            "hosts/192.0.2.169/default"
        );
        let hex = rules(r#"[(match: "^(.*)$", replace: r"by-hex/\x/\0")]"#);
        assert_eq!(run(&hex, "f").unwrap(), "by-hex/C00002A9/f");
    }

    #[test]
    fn case_insensitive_matching_only_when_asked() {
        let strict = rules(r#"[(match: "^BOOT/", replace: "boot/")]"#);
        assert_eq!(run(&strict, "Boot/x").unwrap(), "Boot/x");
        let folded = rules(r#"[(match: "^BOOT/", replace: "boot/", case_insensitive: true)]"#);
        assert_eq!(run(&folded, "Boot/x").unwrap(), "boot/x");
    }

    #[test]
    fn rules_run_in_order_each_on_what_the_last_left_and_stop_ends_the_list() {
        let r = rules(
            r#"[
                (match: "^a", replace: "b"),
                (match: "^b", replace: "c", stop: true),
                (match: "^c", replace: "never"),
            ]"#,
        );
        assert_eq!(
            run(&r, "a1").unwrap(),
            "c1",
            "both first rules, not the third"
        );
        // `stop` applies only when its rule matched: the third rule runs for others.
        assert_eq!(run(&r, "c2").unwrap(), "never2");
        // A match-only stop rule shields names from every later rule.
        let shield = rules(
            r#"[
                (match: "^keep/", stop: true),
                (match: "^(.*)$", replace: r"other/\1"),
            ]"#,
        );
        assert_eq!(run(&shield, "keep/x").unwrap(), "keep/x");
        assert_eq!(run(&shield, "y").unwrap(), "other/y");
    }

    #[test]
    fn refuse_turns_the_request_away_and_invert_applies_to_what_does_not_match() {
        let r = rules(
            r#"[
                (match: r"\.(bak|old)$", refuse: true),
                (match: "^(boot|pxelinux)", invert: true, refuse: true),
            ]"#,
        );
        assert_eq!(run(&r, "boot/x.bak"), Err(Refused::ByRule(1)));
        assert_eq!(run(&r, "etc/shadow"), Err(Refused::ByRule(2)));
        assert_eq!(run(&r, "pxelinux.0").unwrap(), "pxelinux.0");
    }

    #[test]
    fn requests_limits_a_rule_to_reads_or_writes() {
        let r = rules(r#"[(match: "^", replace: "uploads/", requests: write)]"#);
        assert_eq!(apply(&r, WRITE, client(), "f").unwrap(), "uploads/f");
        assert_eq!(apply(&r, READ, client(), "f").unwrap(), "f");
    }

    #[test]
    fn a_rule_that_grows_the_name_without_bound_is_refused() {
        let r = rules(r#"[(match: "", replace: "aaaa", global: true)]"#);
        let mut name = "x".repeat(900);
        assert_eq!(run(&r, &name), Err(Refused::TooLong(1)));
        name.truncate(10);
        assert!(run(&r, &name).unwrap().len() < MAX_REMAPPED);
    }

    #[test]
    fn bad_rules_are_config_errors_at_the_rule() {
        let text = "[\n  (match: \"ok\", stop: true),\n  (match: \"(unclosed\", stop: true),\n]";
        let err = parse_config::<Vec<RemapRule>>(text).unwrap_err();
        assert!(err.message.contains("bad regex \"(unclosed\""), "{err:?}");
        assert!(err.message.contains("unclosed group"), "{err:?}");
        assert_eq!(err.line, 3, "{err:?}");
        for (bad, says) in [
            (r#"[(match: "a", replace: r"\2")]"#, r"\2"),
            (r#"[(match: "a", replace: "b", invert: true)]"#, "invert"),
            (r#"[(match: "a", replace: "b", refuse: true)]"#, "refuse"),
            (r#"[(match: "a", refuse: true, stop: true)]"#, "refuse"),
            (r#"[(match: "a", global: true, stop: true)]"#, "global"),
            (r#"[(match: "a")]"#, "does nothing"),
            (r#"[(match: "a", stpo: true)]"#, "stpo"),
            (r#"[(match: "a", stop: true, requests: get)]"#, "get"),
        ] {
            let err = parse_config::<Vec<RemapRule>>(bad).unwrap_err();
            assert!(err.message.contains(says), "{bad}: {err:?}");
            assert!(err.line >= 1, "{bad}: a position: {err:?}");
        }
    }
}
