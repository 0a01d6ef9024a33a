//! The registry: every workload, one line each, in run order; and every helper mode.

use crate::Workload;

/// All workloads, in the order `kobench run` runs them.
pub fn registry() -> Vec<Box<dyn Workload>> {
    vec![
        Box::new(crate::membarrier::Membarrier),
        Box::new(crate::process_vm::ProcessVm),
        Box::new(crate::kcmp::Kcmp),
        Box::new(crate::ordering::OrderingWorkload),
        Box::new(crate::jit::Jit),
        Box::new(crate::gates::Gates),
    ]
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
    ("stress-target", crate::stress::pvm::helper_target),
    (
        "stress-churn-child",
        crate::stress::kcmp::helper_churn_child,
    ),
    ("stress-exec-reg", crate::stress::kcmp::helper_exec_reg),
    ("gates", crate::gates::helper_gates),
    ("kcmp-family", crate::kcmp::helper_family),
    ("pvm-target", crate::process_vm::helper_target),
    ("jit-target", crate::jit::helper_target),
    ("litmus-fast", crate::ordering::helper_fast),
];
