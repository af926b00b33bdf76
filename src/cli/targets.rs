//! The runner names a command is given, resolved against the fleet's.

use crate::config::settings::Settings;
use crate::model::fleet::{natural_cmp, DesiredRunner, LocalRunner};
use crate::world::error::{Error, Result};

/// The runner names a command may be given: the fleet's (desired, local, GitHub's).
pub struct Targets {
    prefix: String,
    known: Vec<String>,
}

impl Targets {
    pub fn new(settings: &Settings, desired: &[DesiredRunner], local: &[LocalRunner]) -> Targets {
        let mut t = Targets {
            prefix: settings.prefix.clone(),
            known: Vec::new(),
        };
        t.add(desired.iter().map(|r| r.name.clone()));
        t.add(local.iter().map(|c| c.name.clone()));
        t
    }

    pub fn add(&mut self, names: impl IntoIterator<Item = String>) {
        self.known.extend(names);
        self.known.sort_by(|a, b| natural_cmp(a, b));
        self.known.dedup();
    }

    /// Full names for what the user typed (full name, `runner-3`, `3`, a board name); none
    /// given is none (the command's default applies). Each unknown name is a warning; when
    /// none is left, it is an error.
    pub fn resolve(&self, wanted: &[String]) -> Result<Vec<String>> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let resolved = crate::config::names::resolve(&self.prefix, &self.known, wanted);
        for name in &resolved.unknown {
            crate::cli::ui::warn(&format!(
                "{name} is no runner of this fleet (prefix {})",
                self.prefix
            ));
        }
        if resolved.found.is_empty() {
            return Err(Error::Config(format!(
                "none of the given names is a runner of this fleet (prefix {}); `ghr list` shows them",
                self.prefix
            )));
        }
        Ok(resolved.found)
    }
}
