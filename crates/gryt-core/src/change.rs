//! Changes: the items a generation promises to deliver (`FEAT-101 add OAuth2 login`).

use crate::error::{CoreError, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A change id such as `FEAT-101`: `^[A-Z][A-Z0-9]*-[0-9]+$`, unique within a generation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ChangeId(String);

const MAX_ID_LEN: usize = 64;

impl ChangeId {
    pub fn parse(input: &str) -> Result<ChangeId> {
        let shown: String = input.chars().take(64).collect();
        let err = || {
            CoreError::invalid(format!("Invalid change id '{shown}'"))
                .with_hint("change ids look like FEAT-101 or BUG-50: capital letters and digits, a dash, then a number")
        };
        if input.is_empty() || input.len() > MAX_ID_LEN {
            return Err(err());
        }
        let (prefix, number) = input.rsplit_once('-').ok_or_else(err)?;
        let mut chars = prefix.bytes();
        let first_ok = chars.next().is_some_and(|b| b.is_ascii_uppercase());
        let rest_ok = chars.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        let number_ok = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
        if first_ok && rest_ok && number_ok {
            Ok(ChangeId(input.to_string()))
        } else {
            Err(err())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChangeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Deserializes a string through `parse`, validating inside the string visitor so that
/// format errors (e.g. the YAML parser's line and column) point at the value itself, not at
/// the mapping that holds it.
struct ParseVisitor<T>(&'static str, fn(&str) -> Result<T>);

impl<T> serde::de::Visitor<'_> for ParseVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<T, E> {
        (self.1)(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for ChangeId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_str(ParseVisitor(
            "a change id such as FEAT-101",
            ChangeId::parse,
        ))
    }
}

/// What kind of change: add | fix | refine | remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeType {
    Add,
    Fix,
    Refine,
    Remove,
}

impl ChangeType {
    pub const ALL: [ChangeType; 4] = [
        ChangeType::Add,
        ChangeType::Fix,
        ChangeType::Refine,
        ChangeType::Remove,
    ];

    pub fn parse(input: &str) -> Result<ChangeType> {
        match input {
            "add" => Ok(ChangeType::Add),
            "fix" => Ok(ChangeType::Fix),
            "refine" => Ok(ChangeType::Refine),
            "remove" => Ok(ChangeType::Remove),
            other => {
                let shown: String = other.chars().take(64).collect();
                Err(CoreError::invalid(format!("Unknown change type '{shown}'"))
                    .with_hint("the change types are add, fix, refine and remove"))
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Add => "add",
            ChangeType::Fix => "fix",
            ChangeType::Refine => "refine",
            ChangeType::Remove => "remove",
        }
    }
}

impl fmt::Display for ChangeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ChangeType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_str(ParseVisitor(
            "a change type: add, fix, refine or remove",
            ChangeType::parse,
        ))
    }
}

/// One change of a generation, in the reference YAML's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub id: ChangeId,
    #[serde(rename = "type")]
    pub change_type: ChangeType,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
}

/// Titles are one line of human text: not empty, at most 500 characters.
pub fn validate_title(title: &str) -> Result<()> {
    if title.trim().is_empty() {
        return Err(CoreError::invalid("A change needs a non-empty title"));
    }
    if title.chars().count() > 500 {
        return Err(CoreError::invalid(
            "A change title may be at most 500 characters",
        ));
    }
    Ok(())
}

/// The fingerprint of what a change means: its id, type and title. A proof records the
/// fingerprint of the change it proved; editing the type or title (or removing the change and
/// adding another under the same id) gives a new fingerprint, and the old proofs stop counting.
/// The description and assignee are commentary and do not change it.
///
/// `c1:` then the first 16 bytes of SHA-256 over `gryt-change\0ID\0TYPE\0TITLE`, in hex.
pub fn fingerprint(id: &str, change_type: &str, title: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in ["gryt-change", id, change_type, title] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let mut out = String::with_capacity(3 + 32);
    out.push_str("c1:");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in &digest[..16] {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// Whether `s` has the shape of a fingerprint (what the server accepts from clients).
pub fn is_fingerprint(s: &str) -> bool {
    s.strip_prefix("c1:").is_some_and(|h| {
        h.len() == 32
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

impl Change {
    /// This change's [`fingerprint`].
    pub fn fingerprint(&self) -> String {
        fingerprint(self.id.as_str(), self.change_type.as_str(), &self.title)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_ids() {
        let good = ["FEAT-101", "BUG-50", "A-1", "X9-0", "SEC2FA-12"];
        for id in good {
            assert_eq!(ChangeId::parse(id).unwrap().as_str(), id);
        }
        let bad = [
            "", "feat-1", "FEAT", "FEAT-", "-1", "1FEAT-1", "FEAT-1a", "FE_AT-1", "FEAT--1",
            "FEAT-1 ", " FEAT-1", "FÉAT-1", "FEAT-1-2",
        ];
        for id in bad {
            let e = ChangeId::parse(id).expect_err(id);
            assert_eq!(e.kind, crate::ErrorKind::Invalid, "{id}");
        }
        assert!(ChangeId::parse(&format!("A-{}", "1".repeat(100))).is_err());
    }

    #[test]
    fn change_types() {
        for t in ChangeType::ALL {
            assert_eq!(ChangeType::parse(t.as_str()).unwrap(), t);
        }
        for bad in ["", "Add", "feature", "delete", "fixes"] {
            assert!(ChangeType::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fingerprints() {
        let c = |id: &str, t: ChangeType, title: &str| Change {
            id: ChangeId::parse(id).unwrap(),
            change_type: t,
            title: title.into(),
            description: None,
            assignee: None,
        };
        let a = c("FEAT-1", ChangeType::Add, "Login");
        assert!(is_fingerprint(&a.fingerprint()), "{}", a.fingerprint());
        assert_eq!(
            a.fingerprint(),
            c("FEAT-1", ChangeType::Add, "Login").fingerprint()
        );
        let mut described = a.clone();
        described.description = Some("more words".into());
        described.assignee = Some("bob".into());
        assert_eq!(described.fingerprint(), a.fingerprint());
        for other in [
            c("FEAT-1", ChangeType::Fix, "Login"),
            c("FEAT-1", ChangeType::Add, "Logout"),
            c("FEAT-2", ChangeType::Add, "Login"),
        ] {
            assert_ne!(other.fingerprint(), a.fingerprint());
        }
        // The separators keep fields apart: no two splits of the same text collide.
        assert_ne!(
            fingerprint("A-1", "add", "x"),
            fingerprint("A-1", "addx", "")
        );
        for bad in ["", "c1:", "c1:XYZ", "c2:00000000000000000000000000000000"] {
            assert!(!is_fingerprint(bad), "{bad}");
        }
    }

    #[test]
    fn titles() {
        assert!(validate_title("OAuth2 login").is_ok());
        assert!(validate_title("").is_err());
        assert!(validate_title("   ").is_err());
        assert!(validate_title(&"x".repeat(501)).is_err());
    }
}
