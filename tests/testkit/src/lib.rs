//! Test harness of ghr.
