//! `kobench env`, `kobench rules`, `kobench list`.

use crate::cli::FormatArgs;
use kobench_harness::fingerprint::Fingerprint;

pub fn fingerprint() -> Fingerprint {
    Fingerprint::collect(env!("KOBENCH_RUSTC"))
}

pub fn env(a: FormatArgs) -> anyhow::Result<i32> {
    let f = fingerprint();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&f)?);
        return Ok(crate::exit::OK);
    }
    let v = serde_json::to_value(&f)?;
    for (k, val) in v.as_object().into_iter().flatten() {
        match val {
            serde_json::Value::Object(m) => {
                println!("{k}:");
                for (mk, mv) in m {
                    println!("  {mk:<28} {}", mv.as_str().unwrap_or(&mv.to_string()));
                }
            }
            serde_json::Value::String(s) => println!("{k:<20} {s}"),
            other => println!("{k:<20} {other}"),
        }
    }
    Ok(crate::exit::OK)
}

pub fn rules(a: FormatArgs) -> anyhow::Result<i32> {
    let rules = kobench_harness::rules::RULES;
    if a.json {
        println!("{}", serde_json::to_string_pretty(rules)?);
        return Ok(crate::exit::OK);
    }
    for r in rules {
        println!(
            "{:<16} [{}] {}\n{:<16} Linux: {}",
            r.id, r.workload, r.text, "", r.linux
        );
    }
    Ok(crate::exit::OK)
}

pub fn list(a: FormatArgs) -> anyhow::Result<i32> {
    let ds: Vec<_> = kobench_workloads::registry()
        .iter()
        .map(|w| w.descriptor())
        .collect();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&ds)?);
        return Ok(crate::exit::OK);
    }
    for d in ds {
        println!(
            "{}\n  {}\n  exercises: {}\n  rules: {}\n  verifies: {}\n  unavailable when: {}\n",
            d.name,
            d.summary,
            d.exercises.join("; "),
            d.rules.join(", "),
            if d.verifies { "yes" } else { "no" },
            d.unavailable_when
        );
    }
    Ok(crate::exit::OK)
}
