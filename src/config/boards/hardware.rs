//! The hardware a board runner gets, whichever syntax configured it.

/// What a board's container gets from the host besides what every runner gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hardware {
    /// `host:container[:rwm]` entries; a board with devices sees them instead of every USB
    /// serial adapter of the host.
    pub devices: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Compose volume specs.
    pub volumes: Vec<String>,
    pub group_add: Vec<String>,
}
