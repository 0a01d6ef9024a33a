//! Injects a slowdown into real results, to check that `kobench compare` flags it:
//!
//! `cargo run --release -p kobench-reports --example inject -- IN OUT METRIC FACTOR`
//!
//! IN is a result file or a `run` directory (repeats kept as `repeat-NN/`); OUT a
//! directory; every sample of METRIC (a measurement id) is multiplied by FACTOR (1.2 =
//! +20 % latency) in every run.

use kobench_reports::{fixtures, load::ResultSet};
use std::path::Path;

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() != 4 {
        eprintln!("usage: inject IN OUT METRIC FACTOR");
        std::process::exit(2);
    }
    let set = ResultSet::load(Path::new(&a[0])).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(3)
    });
    let factor: f64 = a[3].parse().expect("FACTOR is a number");
    let out = Path::new(&a[1]);
    let many = set.runs.len() > 1;
    for (i, r) in set.runs.iter().enumerate() {
        if !r.measurements().any(|m| m.id == a[2]) {
            eprintln!("{}: no measurement {}", a[0], a[2]);
            std::process::exit(2);
        }
        let dir = if many {
            out.join(format!("repeat-{:02}", i + 1))
        } else {
            out.to_path_buf()
        };
        std::fs::create_dir_all(&dir).expect("create OUT");
        let scaled = fixtures::scaled(r, &a[2], factor);
        std::fs::write(
            dir.join("results.json"),
            serde_json::to_vec_pretty(&scaled).expect("serialize"),
        )
        .expect("write");
    }
    println!(
        "{} run(s) written under {} with {} × {factor}",
        set.runs.len(),
        out.display(),
        a[2]
    );
}
