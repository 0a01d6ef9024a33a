//! Run profiles: how long and how hard each workload measures.

use serde::{Deserialize, Serialize};

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// A smoke configuration for `cargo test`: seconds in all.
    Smoke,
    /// The default: the whole run in about a minute on 2 CPUs.
    Quick,
    Standard,
    Nightly,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Smoke => "smoke",
            Profile::Quick => "quick",
            Profile::Standard => "standard",
            Profile::Nightly => "nightly",
        }
    }

    pub fn parse(s: &str) -> Option<Profile> {
        match s {
            "smoke" => Some(Profile::Smoke),
            "quick" => Some(Profile::Quick),
            "standard" => Some(Profile::Standard),
            "nightly" => Some(Profile::Nightly),
            _ => None,
        }
    }

    /// Picks the value for this profile (smoke uses `smoke`, the others their own).
    pub fn pick<T>(self, smoke: T, quick: T, standard: T, nightly: T) -> T {
        match self {
            Profile::Smoke => smoke,
            Profile::Quick => quick,
            Profile::Standard => standard,
            Profile::Nightly => nightly,
        }
    }
}
