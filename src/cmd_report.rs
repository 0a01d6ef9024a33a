//! `kobench report RESULT... -o DIR`: report.html (self-contained) and report.md.

use crate::cli::ReportArgs;
use crate::exit::{self, Exit};
use kobench_harness::output::{ensure_writable_dir, write_atomic};

pub fn run(a: ReportArgs) -> anyhow::Result<i32> {
    let sets = a
        .results
        .iter()
        .map(|p| crate::cmd_compare::load_set(p))
        .collect::<Result<Vec<_>, _>>()?;
    ensure_writable_dir(&a.out).map_err(|e| {
        Exit::io(format!(
            "cannot write the report to {}: {e}",
            a.out.display()
        ))
    })?;
    let t0 = std::time::Instant::now();
    let r = kobench_reports::report::Report::new(&sets);
    let html = a.out.join("report.html");
    let md = a.out.join("report.md");
    write_atomic(&html, r.html().as_bytes())
        .map_err(|e| Exit::io(format!("cannot write {}: {e}", html.display())))?;
    write_atomic(&md, r.markdown().as_bytes())
        .map_err(|e| Exit::io(format!("cannot write {}: {e}", md.display())))?;
    // Reports are made to be published: readable by others (the atomic write makes 0600).
    for p in [&html, &md] {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644));
    }
    println!(
        "report: {}\nmarkdown: {}\n({} result set(s), {:.2} s)",
        html.display(),
        md.display(),
        sets.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(exit::OK)
}
