//! Formatting of values for humans.

/// Nanoseconds with a readable unit: `262 ns`, `11.6 µs`, `9.61 ms`, `1.20 s`.
pub fn ns(v: f64) -> String {
    if v < 1e3 {
        format!("{v:.0} ns")
    } else if v < 1e6 {
        let s = format!("{:.2}", v / 1e3);
        let s = s.trim_end_matches('0').trim_end_matches('.');
        format!("{s} µs")
    } else if v < 1e9 {
        format!("{:.2} ms", v / 1e6)
    } else {
        format!("{:.2} s", v / 1e9)
    }
}

/// A value in `unit`, with ns values scaled.
pub fn value(v: f64, unit: &str) -> String {
    match unit {
        "ns" => ns(v),
        _ => {
            if v.abs() >= 100.0 || v == v.trunc() {
                format!("{v:.0} {unit}")
            } else {
                format!("{v:.3} {unit}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_ns() {
        assert_eq!(ns(262.0), "262 ns");
        assert_eq!(ns(11_600.0), "11.6 µs");
        assert_eq!(ns(9_610_000.0), "9.61 ms");
        assert_eq!(ns(1_200_000_000.0), "1.20 s");
        assert_eq!(value(12.3456, "GiB/s"), "12.346 GiB/s");
        assert_eq!(value(250.0, "ns"), "250 ns");
    }
}
