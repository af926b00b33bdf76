//! ghr: GitHub Actions self-hosted runners as Docker Compose services.

pub mod github;
pub mod token_cache;
