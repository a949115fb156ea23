//! Release versions: `vMAJOR.MINOR.PATCH` with an optional semver pre-release.
//!
//! Input may omit the leading `v` (`1.2.0`); the canonical form always has it
//! (`v1.2.0`). Versions order by semver precedence.

use crate::error::{CoreError, Result};
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A normalised release version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// Dot-separated pre-release identifiers (`rc.1` → `["rc", "1"]`), empty for a release.
    pub pre: Vec<String>,
}

const MAX_LEN: usize = 128;

fn bad(input: &str, why: &str) -> CoreError {
    let shown: String = input.chars().take(64).collect();
    CoreError::invalid(format!("Invalid version '{shown}': {why}"))
        .with_hint("use semantic versioning like v1.2.0 or 1.2.0-beta.1")
}

fn parse_number(input: &str, part: &str, name: &str) -> Result<u64> {
    if part.is_empty() {
        return Err(bad(input, &format!("the {name} number is missing")));
    }
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            input,
            &format!("the {name} number '{part}' is not a number"),
        ));
    }
    if part.len() > 1 && part.starts_with('0') {
        return Err(bad(
            input,
            &format!("the {name} number '{part}' has a leading zero"),
        ));
    }
    part.parse::<u64>()
        .map_err(|_| bad(input, &format!("the {name} number '{part}' is too large")))
}

impl Version {
    /// Parses `1.2.3`, `v1.2.3` or `v1.2.3-rc.1` (also `V1.2.3`).
    pub fn parse(input: &str) -> Result<Version> {
        if input.is_empty() {
            return Err(bad(input, "it is empty"));
        }
        if input.len() > MAX_LEN {
            return Err(bad(input, "it is longer than 128 characters"));
        }
        let body = input
            .strip_prefix('v')
            .or_else(|| input.strip_prefix('V'))
            .unwrap_or(input);
        if body.contains('+') {
            return Err(bad(input, "build metadata (+...) is not supported"));
        }
        let (core, pre) = match body.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (body, None),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() != 3 {
            return Err(bad(
                input,
                "expected three numbers MAJOR.MINOR.PATCH separated by dots",
            ));
        }
        let major = parse_number(input, parts[0], "major")?;
        let minor = parse_number(input, parts[1], "minor")?;
        let patch = parse_number(input, parts[2], "patch")?;
        let mut pre_ids = Vec::new();
        if let Some(pre) = pre {
            for ident in pre.split('.') {
                if ident.is_empty() {
                    return Err(bad(input, "the pre-release has an empty part"));
                }
                if !ident
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                {
                    return Err(bad(
                        input,
                        "the pre-release may hold only letters, digits, '-' and '.'",
                    ));
                }
                if ident.len() > 1
                    && ident.starts_with('0')
                    && ident.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(bad(input, "a numeric pre-release part has a leading zero"));
                }
                pre_ids.push(ident.to_string());
            }
        }
        Ok(Version {
            major,
            minor,
            patch,
            pre: pre_ids,
        })
    }

    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre.join("."))?;
        }
        Ok(())
    }
}

impl FromStr for Version {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self> {
        Version::parse(s)
    }
}

fn cmp_pre_ident(a: &str, b: &str) -> Ordering {
    let an = a.bytes().all(|c| c.is_ascii_digit());
    let bn = b.bytes().all(|c| c.is_ascii_digit());
    match (an, bn) {
        // Numeric identifiers compare numerically (no leading zeros, so length first).
        (true, true) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.cmp(b),
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.pre.iter().zip(other.pre.iter()) {
                        let o = cmp_pre_ident(a, b);
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    self.pre.len().cmp(&other.pre.len())
                }
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises() {
        let cases = [
            ("1.2.0", "v1.2.0"),
            ("v1.2.0", "v1.2.0"),
            ("V1.2.0", "v1.2.0"),
            ("0.0.0", "v0.0.0"),
            ("v10.20.30", "v10.20.30"),
            ("1.0.0-rc.1", "v1.0.0-rc.1"),
            ("v2.0.0-beta-2.x.7", "v2.0.0-beta-2.x.7"),
        ];
        for (input, want) in cases {
            let v = Version::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(v.to_string(), want, "{input}");
        }
    }

    #[test]
    fn rejects_bad_versions() {
        let cases = [
            "",
            "banana",
            "v1.2",
            "v1.2.3.4",
            "../../etc/passwd",
            "v1.2.x",
            "v01.2.3",
            "v1.2.3-",
            "v1.2.3-rc..1",
            "v1.2.3-rc/1",
            "v1.2.3+build",
            "v1.2.3-01",
            "vv1.2.3",
            " v1.2.3",
            "v1.2.3 ",
            "-1.2.3",
            "99999999999999999999999.0.0",
        ];
        for input in cases {
            let err = Version::parse(input).expect_err(input);
            assert_eq!(err.kind, crate::ErrorKind::Invalid, "{input}");
            assert!(err.message.starts_with("Invalid version"), "{input}");
        }
        let long = format!("v1.0.0-{}", "a".repeat(200));
        assert!(Version::parse(&long).is_err());
    }

    #[test]
    fn orders_by_semver_precedence() {
        let ordered = [
            "v1.0.0-alpha",
            "v1.0.0-alpha.1",
            "v1.0.0-alpha.beta",
            "v1.0.0-beta",
            "v1.0.0-beta.2",
            "v1.0.0-beta.11",
            "v1.0.0-rc.1",
            "v1.0.0",
            "v1.0.1",
            "v1.2.0",
            "v1.10.0",
            "v2.0.0",
        ];
        for pair in ordered.windows(2) {
            let a = Version::parse(pair[0]).unwrap_or_else(|e| panic!("{e}"));
            let b = Version::parse(pair[1]).unwrap_or_else(|e| panic!("{e}"));
            assert!(a < b, "{} < {}", pair[0], pair[1]);
        }
    }
}
