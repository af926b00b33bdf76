//! Where runners are registered: an organization, or one repository of it.

use std::fmt;

/// An organization (`repo: None`) or a repository (`org/repo`), as set by `ORG` and `REPO`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    pub org: String,
    pub repo: Option<String>,
}

impl Scope {
    pub fn org(org: impl Into<String>) -> Self {
        Scope {
            org: org.into(),
            repo: None,
        }
    }

    pub fn repo(org: impl Into<String>, repo: impl Into<String>) -> Self {
        Scope {
            org: org.into(),
            repo: Some(repo.into()),
        }
    }

    /// From the `ORG` and `REPO` settings, where an empty `REPO` means the organization.
    pub fn from_settings(org: &str, repo: Option<&str>) -> Self {
        match repo.map(str::trim).filter(|r| !r.is_empty()) {
            Some(r) => Scope::repo(org.trim(), r),
            None => Scope::org(org.trim()),
        }
    }

    /// Path segments of the scope's REST prefix: `orgs/{org}` or `repos/{org}/{repo}`.
    pub(crate) fn path_segments(&self) -> Vec<&str> {
        match &self.repo {
            None => vec!["orgs", &self.org],
            Some(r) => vec!["repos", &self.org, r],
        }
    }

    /// "organization `o`" or "repository `o/r`", for messages.
    pub fn describe(&self) -> String {
        match &self.repo {
            None => format!("organization `{}`", self.org),
            Some(r) => format!("repository `{}/{}`", self.org, r),
        }
    }

    /// What a PAT needs to manage this scope's runners (GitHub's docs for these endpoints).
    pub fn permission_needed(&self) -> &'static str {
        match self.repo {
            None => "the `admin:org` scope (organization admin)",
            Some(_) => "admin access to the repository (classic PAT: the `repo` scope)",
        }
    }

    /// What a GitHub App needs to manage this scope's runners.
    pub fn app_permission_needed(&self) -> &'static str {
        match self.repo {
            None => "the organization permission \"Self-hosted runners\" (read and write)",
            Some(_) => "the repository permission \"Administration\" (read and write)",
        }
    }

    /// The URL runners register against: `{server}/{org}` or `{server}/{org}/{repo}`.
    pub fn runner_url(&self, server_url: &str) -> String {
        let base = server_url.trim_end_matches('/');
        match &self.repo {
            None => format!("{base}/{}", self.org),
            Some(r) => format!("{base}/{}/{r}", self.org),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repo {
            None => f.write_str(&self.org),
            Some(r) => write!(f, "{}/{}", self.org, r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_map_to_scopes() {
        assert_eq!(Scope::from_settings("o", None), Scope::org("o"));
        assert_eq!(Scope::from_settings("o", Some(" ")), Scope::org("o"));
        assert_eq!(Scope::from_settings("o", Some("r")), Scope::repo("o", "r"));
        assert_eq!(Scope::repo("o", "r").to_string(), "o/r");
        assert_eq!(Scope::org("o").path_segments(), ["orgs", "o"]);
        assert_eq!(Scope::repo("o", "r").path_segments(), ["repos", "o", "r"]);
        assert_eq!(
            Scope::repo("o", "r").runner_url("https://github.com/"),
            "https://github.com/o/r"
        );
    }
}
