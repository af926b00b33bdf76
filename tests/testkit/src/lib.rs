//! Test harness of ghr: a fake GitHub (REST + the runner-facing protocol), a fake actions
//! runner (bin `fake-runner`), and the builder of the FROM-scratch test image.

pub mod b64;
pub mod fake_github;
pub mod http_client;
pub mod timefmt;

pub use fake_github::{FakeGitHub, JobRecord, JobSpec, LoggedRequest, RunnerInfo, Scope};
pub mod background;
pub mod docker;
pub mod figures;
pub mod lab;
pub mod one_job;
pub mod proxy;
pub mod runner_layout;
pub mod serving;
pub mod terminal;
