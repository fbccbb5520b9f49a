//! The check shared by the URLs a topology names for a service the host talks to (an
//! S3 endpoint, a NATS server): a URL of an expected scheme, with a host, no
//! credentials (they come from environment variables) and no path, query or fragment.
//!
//! Why one check: the two sections differ only in schemes and wording; written twice,
//! one would drift from the other.

/// What a section expects of its URLs, and how its messages put it.
pub struct UrlRules {
    pub schemes: &'static [&'static str],
    /// The scheme rule in words, e.g. "the scheme must be `http` or `https`".
    pub scheme_rule: &'static str,
    /// A valid URL, shown when the text is not a URL.
    pub example: &'static str,
    /// Where credentials go instead, e.g. "(`access_key_env`)".
    pub credentials_fields: &'static str,
    /// Appended to the path rule, e.g. ": `bucket` and `prefix` are fields".
    pub path_note: &'static str,
}

/// What is wrong with `text` under `rules`, if anything.
pub fn url_problem(text: &str, rules: &UrlRules) -> Option<String> {
    let url = match url::Url::parse(text) {
        Ok(url) => url,
        Err(e) => return Some(format!("not a URL ({e}); write e.g. \"{}\"", rules.example)),
    };
    if !rules.schemes.contains(&url.scheme()) {
        return Some(rules.scheme_rule.into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Some("no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some(format!(
            "credentials belong in environment variables {}",
            rules.credentials_fields
        ));
    }
    // An `http` URL always has the path "/", a `nats` one may have "".
    let extra =
        !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some();
    extra.then(|| format!("no path, query or fragment{}", rules.path_note))
}
