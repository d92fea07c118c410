//! stub
pub struct DiagnoseOptions;
pub struct PodFailure;
pub fn diagnose() {}
