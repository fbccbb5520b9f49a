//! A remap rule's replacement, in tftpd-hpa's escape syntax, so that `-m` rule files
//! carry over as they are: `\0` the whole match, `\1`..`\9` its groups, `\i` the
//! client's address (`192.0.2.169`, `2001:db8::1`), `\x` the same in hexadecimal
//! (`C00002A9`, 32 digits for IPv6), `\\` a backslash, `\U` / `\L` upper / lower case
//! for what follows, `\E` the end of that. Any other `\c` is `c` (tftpd-hpa's `\ `
//! and `\#`), and a lone `\` at the end is a backslash.
//!
//! Parsed once, when the configuration is read: a group the rule's regex does not have
//! is a configuration error there (tftpd-hpa would quietly put nothing).

use std::net::IpAddr;

use regex::Captures;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Group(usize),
    Ip,
    IpHex,
    Upper,
    Lower,
    AsIs,
}

/// A parsed replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Piece>);

impl Template {
    /// Parse `text`; `groups` is how many groups the rule's regex has (`\0` always).
    pub fn parse(text: &str, groups: usize) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                literal.push(c);
                continue;
            }
            let piece = match chars.next() {
                None => {
                    literal.push('\\');
                    continue;
                }
                Some(d @ '0'..='9') => {
                    let n = d as usize - '0' as usize;
                    if n > groups {
                        return Err(format!(
                            "`replace` uses \\{n}, but `match` has {groups} group(s)"
                        ));
                    }
                    Piece::Group(n)
                }
                Some('i') => Piece::Ip,
                Some('x') => Piece::IpHex,
                Some('U') => Piece::Upper,
                Some('L') => Piece::Lower,
                Some('E') => Piece::AsIs,
                Some(other) => {
                    literal.push(other);
                    continue;
                }
            };
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(piece);
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template(pieces))
    }

    /// Append the replacement of one match to `out`.
    pub fn expand(&self, caps: &Captures<'_>, client: IpAddr, out: &mut String) {
        let mut case = Piece::AsIs;
        let mut put = |text: &str, case: &Piece| match case {
            Piece::Upper => out.extend(text.chars().flat_map(char::to_uppercase)),
            Piece::Lower => out.extend(text.chars().flat_map(char::to_lowercase)),
            _ => out.push_str(text),
        };
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => put(t, &case),
                Piece::Group(n) => put(caps.get(*n).map_or("", |m| m.as_str()), &case),
                Piece::Ip => put(&client.to_canonical().to_string(), &case),
                Piece::IpHex => put(&hex_address(client), &case),
                Piece::Upper | Piece::Lower | Piece::AsIs => case = piece.clone(),
            }
        }
    }
}

/// tftpd-hpa's `\x`: the address's bytes in upper-case hex, no separators.
fn hex_address(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("{:08X}", u32::from(v4)),
        IpAddr::V6(v6) => format!("{:032X}", u128::from(v6)),
    }
}

#[cfg(test)]
mod tests {
    use regex::Regex;

    use super::*;

    fn run(re: &str, template: &str, hay: &str, client: &str) -> String {
        let re = Regex::new(re).unwrap();
        let t = Template::parse(template, re.captures_len() - 1).unwrap();
        let caps = re.captures(hay).unwrap();
        let mut out = String::new();
        t.expand(&caps, client.parse().unwrap(), &mut out);
        out
    }

    #[test]
    fn groups_the_whole_match_and_literals() {
        assert_eq!(run(r"^(\w+)/(\w+)$", r"\2/\1", "a/b", "10.0.0.1"), "b/a");
        assert_eq!(run(r"b+", r"[\0]", "abbc", "10.0.0.1"), "[bb]");
        // An optional group that did not take part is empty.
        assert_eq!(run(r"a(x)?", r"<\1>", "a", "10.0.0.1"), "<>");
        assert_eq!(run("a", r"c:\\d\ e\#\", "a", "10.0.0.1"), r"c:\d e#\");
    }

    #[test]
    fn the_client_address_dotted_colon_and_hex() {
        assert_eq!(run("f", r"\i/f", "f", "192.0.2.169"), "192.0.2.169/f");
        assert_eq!(run("f", r"\x", "f", "192.0.2.169"), "C00002A9");
        assert_eq!(run("f", r"\i", "f", "2001:db8::1"), "2001:db8::1");
        assert_eq!(
            run("f", r"\x", "f", "2001:db8::1"),
            "20010DB8000000000000000000000001"
        );
        // A mapped IPv4 client is its IPv4 address.
        assert_eq!(run("f", r"\i", "f", "::ffff:192.0.2.1"), "192.0.2.1");
    }

    #[test]
    fn case_changes_last_until_ended() {
        assert_eq!(
            run("(.*)", r"\L\1", "Boot/X64.EFI", "10.0.0.1"),
            "boot/x64.efi"
        );
        assert_eq!(run("(a)(b)", r"\U\1\E\2x", "ab", "10.0.0.1"), "Abx");
        assert_eq!(run("f", r"\L\x", "f", "192.0.2.169"), "c00002a9");
    }

    #[test]
    fn a_group_the_regex_lacks_is_a_config_error() {
        let err = Template::parse(r"\3", 2).unwrap_err();
        assert!(err.contains(r"\3") && err.contains("2 group"), "{err}");
        assert!(Template::parse(r"\0", 0).is_ok());
    }
}
