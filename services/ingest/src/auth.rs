//! Bearer keys: each source has its own; only their SHA-256 digests are configured.

use std::collections::HashMap;

use axum::http::{header, HeaderMap};
use ioc_domain::Source;
use sha2::{Digest, Sha256};

use crate::error::IngestError;

/// Maps key digests to the source they belong to.
#[derive(Debug, Clone)]
pub struct KeyRing {
    owners: HashMap<String, Source>,
    revoked: std::collections::HashSet<String>,
}

impl KeyRing {
    /// Builds the ring from validated configuration (source name → digests, revoked digests).
    pub fn new(keys: &std::collections::BTreeMap<String, Vec<String>>, revoked: &[String]) -> Self {
        let owners = keys
            .iter()
            .filter_map(|(name, digests)| name.parse::<Source>().ok().map(|source| (source, digests)))
            .flat_map(|(source, digests)| digests.iter().map(move |d| (d.to_ascii_lowercase(), source)))
            .collect();
        let revoked = revoked.iter().map(|d| d.to_ascii_lowercase()).collect();
        KeyRing { owners, revoked }
    }

    /// Checks that the request carries a key of `source`.
    pub fn authorize(&self, headers: &HeaderMap, source: Source) -> Result<(), IngestError> {
        let value = headers.get(header::AUTHORIZATION).ok_or(IngestError::Unauthenticated(
            "missing Authorization header; send Authorization: Bearer <source key>",
        ))?;
        let key = value
            .to_str()
            .ok()
            // The scheme's name is case-insensitive (RFC 9110, 11.1).
            .and_then(|text| text.get(..7).filter(|scheme| scheme.eq_ignore_ascii_case("bearer ")).map(|_| &text[7..]))
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .ok_or(IngestError::Unauthenticated("Authorization header must be \"Bearer <source key>\""))?;
        let digest = digest(key);
        if self.revoked.contains(&digest) {
            return Err(IngestError::Unauthenticated(
                "this key was revoked; ask the IOC operators for the current one",
            ));
        }
        match self.owners.get(&digest) {
            None => Err(IngestError::Unauthenticated(
                "unknown key; check the key the source was given (no spaces or newline around it), or ask the IOC operators for the current one",
            )),
            Some(owner) if *owner != source => Err(IngestError::WrongSource { key_source: *owner, requested: source }),
            Some(_) => Ok(()),
        }
    }
}

/// SHA-256 hex digest of a clear key, as configured.
pub fn digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ring() -> KeyRing {
        let mut keys = std::collections::BTreeMap::new();
        keys.insert("portal".to_owned(), vec![digest("portal-old"), digest("portal-new")]);
        keys.insert("edoc".to_owned(), vec![digest("edoc-key")]);
        KeyRing::new(&keys, &[digest("portal-leaked")])
    }

    fn bearer(key: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {key}")).expect("header"));
        headers
    }

    #[test]
    fn both_rotation_keys_work_and_others_are_refused() {
        let ring = ring();
        assert!(ring.authorize(&bearer("portal-old"), Source::Portal).is_ok());
        assert!(ring.authorize(&bearer("portal-new"), Source::Portal).is_ok());
        assert!(matches!(ring.authorize(&bearer("nope"), Source::Portal), Err(IngestError::Unauthenticated(_))));
        assert!(matches!(ring.authorize(&bearer("edoc-key"), Source::Portal), Err(IngestError::WrongSource { .. })));
        assert!(matches!(ring.authorize(&HeaderMap::new(), Source::Portal), Err(IngestError::Unauthenticated(_))));
        let revoked = ring.authorize(&bearer("portal-leaked"), Source::Portal);
        assert!(matches!(revoked, Err(IngestError::Unauthenticated(message)) if message.contains("revoked")));
    }
}
