//! The registry: every workload, one line each, in run order; and every helper mode.

use crate::Workload;

/// All workloads, in the order `kobench run` runs them.
pub fn registry() -> Vec<Box<dyn Workload>> {
    vec![Box::new(crate::membarrier::Membarrier)]
}

/// The workload named `name`.
pub fn find(name: &str) -> Option<Box<dyn Workload>> {
    registry().into_iter().find(|w| w.descriptor().name == name)
}

/// A helper mode: `kobench __helper NAME ARGS...` runs `main(ARGS)` and exits with its code.
pub type HelperMain = fn(&[String]) -> i32;

/// Every helper mode, by name.
pub const HELPERS: &[(&str, HelperMain)] = &[
    ("mb-rules", crate::membarrier::helper_rules),
    ("mb-after-exec", crate::membarrier::helper_after_exec),
    ("mb-unpriv", crate::membarrier::helper_unpriv),
    ("mb-regcost", crate::membarrier::helper_regcost),
];
