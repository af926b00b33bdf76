//! Which Docker Compose a host has.

/// Which compose implementation this host has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComposeFlavor {
    /// `docker compose` (the v2 plugin).
    V2,
    /// `docker-compose` (the v1 Python tool).
    V1,
}
