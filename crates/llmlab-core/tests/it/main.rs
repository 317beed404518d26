//! The core's integration tests, one binary (STYLE §12): the shared provider
//! fixtures checked through the public API, and property tests.

mod fixtures;
mod properties;
mod reserve;
