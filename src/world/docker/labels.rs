//! Labels ghr reads on Docker objects besides its own namespace (`model::compose::label`).

/// The label compose puts on what it creates: which project a container belongs to.
pub const COMPOSE_PROJECT_LABEL: &str = "com.docker.compose.project";
/// Label of one-off containers (value: what they do), beside `ghr.prefix` and `ghr.runner`.
pub const ONEOFF_LABEL: &str = "ghr.oneoff";
