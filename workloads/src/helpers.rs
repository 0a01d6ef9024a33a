//! Helper mode: the entry point of `kobench __helper NAME ARGS...`, and small utilities
//! helper processes share (printing one JSON reply line).

use std::io::Write;

/// Runs the helper named by `args[0]`; returns the process exit code.
pub fn helper_main(args: &[String]) -> i32 {
    let Some(name) = args.first() else {
        eprintln!("kobench: __helper needs a helper name");
        return 2;
    };
    match crate::registry::HELPERS.iter().find(|(n, _)| n == name) {
        Some((_, f)) => f(&args[1..]),
        None => {
            eprintln!("kobench: unknown helper '{name}'");
            2
        }
    }
}

/// Prints one JSON reply line on stdout and flushes it.
pub fn reply<T: serde::Serialize>(v: &T) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer(&mut out, v);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}
