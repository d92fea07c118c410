//! The one harness the integration tests share (`mod harness;` in each test file):
//! - [`binary`]: a namespace per test on the shared test cluster, manifest files, and running
//!   the real `kpush` binary;
//! - [`track`]: applying manifests and building tracking targets for the library's `track`;
//! - [`azure`]: the Entra ID / ARM emulator with one tenant, and an environment guard;
//! - [`runs`]: `kpush apply` in the background on many ConfigMaps while a test injects faults;
//! - [`sops`]: the real `sops` and age keys, to encrypt fixtures at test time.
//!
//! Every test file uses only part of it.
#![allow(dead_code)]

pub mod azure;
pub mod binary;
pub mod runs;
pub mod sops;
pub mod track;
