//! Connecting to an S3-compatible store from the topology's settings.

use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, S3ConditionalPut};

use crate::error::{ObjectStorageError, Result};
use crate::storage::ObjectStorage;

/// An `s3` storage as the topology describes it, credentials already read from the
/// environment variables it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// `http://host:port` or `https://host`; no path, query or fragment.
    pub endpoint: String,
    /// The bucket.
    pub bucket: String,
    /// Names live under this prefix (`""`: the whole bucket).
    pub prefix: String,
    /// The signing region (`us-east-1` when the store does not care).
    pub region: String,
    /// Access key id and secret; `None`: anonymous, unsigned requests.
    pub credentials: Option<(String, String)>,
    /// `http://endpoint/bucket/key` instead of `http://bucket.endpoint/key`.
    pub path_style: bool,
}

/// Check an endpoint URL: `http` or `https`, a host, nothing after it but `/`.
pub fn check_endpoint(endpoint: &str) -> Result<url::Url> {
    let bad = |why: &str| {
        Err(ObjectStorageError::Config(format!(
            "endpoint `{endpoint}`: {why}"
        )))
    };
    let url = match url::Url::parse(endpoint) {
        Ok(url) => url,
        Err(e) => return bad(&e.to_string()),
    };
    if !matches!(url.scheme(), "http" | "https") {
        return bad("the scheme must be http or https");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return bad("no host");
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return bad("no path, query or fragment: the bucket and prefix are separate fields");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return bad("credentials belong in environment variables, not in the URL");
    }
    Ok(url)
}

impl ObjectStorage {
    /// A storage on the S3 store `settings` describe. Nothing is sent yet; conditional
    /// puts are enabled (`If-None-Match`/`If-Match`), see `probe.rs`.
    pub fn connect_s3(settings: &S3Settings) -> Result<ObjectStorage> {
        let url = check_endpoint(&settings.endpoint)?;
        if settings.bucket.is_empty() {
            return Err(ObjectStorageError::Config("empty bucket name".into()));
        }
        let endpoint = url.as_str().trim_end_matches('/');
        let mut builder = AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_allow_http(url.scheme() == "http")
            .with_virtual_hosted_style_request(!settings.path_style)
            .with_conditional_put(S3ConditionalPut::ETagMatch);
        builder = match &settings.credentials {
            Some((key, secret)) => builder
                .with_access_key_id(key)
                .with_secret_access_key(secret),
            None => builder.with_skip_signature(true),
        };
        let store = builder
            .build()
            .map_err(|e| ObjectStorageError::Config(e.to_string()))?;
        ObjectStorage::new(Arc::new(store), &settings.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked() {
        assert!(check_endpoint("http://127.0.0.1:8333").is_ok());
        assert!(check_endpoint("https://s3.example.com/").is_ok());
        for bad in [
            "127.0.0.1:8333",
            "ftp://h",
            "http://",
            "http://h/bucket",
            "http://h?x=1",
            "http://u:p@h",
            "not a url",
        ] {
            assert!(check_endpoint(bad).is_err(), "{bad} accepted");
        }
    }
}
