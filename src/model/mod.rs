//! Stage 2, the desired fleet: which runners should exist and the compose file that makes
//! them, and the joins of what Docker and GitHub have. Pure.

pub mod compose;
pub mod digest;
pub mod ephemeral;
pub mod first_start;
pub mod fleet;
pub mod host_facts;
