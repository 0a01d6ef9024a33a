//! Latency histograms and their summaries.
//!
//! Every latency sample goes into an HdrHistogram with 3 significant digits (bucket error
//! ≤ 0.1 %). A [`Summary`] carries the percentiles reports print and the serialized
//! histogram (V2 + deflate, base64: the "HISTFAAAA…" form the Java/Go/JS tools read), so
//! reports can merge and re-plot without rerunning.

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// A new latency histogram (ns, 3 significant digits, auto-resizing so memory follows
/// the largest value recorded).
pub fn new_histogram() -> Histogram<u64> {
    let mut h =
        Histogram::<u64>::new_with_bounds(1, 1_000_000, 3).expect("static bounds are valid");
    h.auto(true);
    h
}

/// The summary stored for every measured distribution. Values in the measurement's unit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: u64,
    pub min: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
    pub stddev: f64,
    /// The whole histogram, V2 deflate, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<String>,
}

impl Summary {
    /// Summarises a histogram and embeds it.
    pub fn of(h: &Histogram<u64>) -> Summary {
        let mut s = Summary::bare(h);
        s.histogram = encode(h).ok();
        s
    }

    /// Summarises without embedding the histogram.
    pub fn bare(h: &Histogram<u64>) -> Summary {
        if h.is_empty() {
            return Summary {
                count: 0,
                min: 0,
                p50: 0,
                p90: 0,
                p99: 0,
                p999: 0,
                max: 0,
                mean: 0.0,
                stddev: 0.0,
                histogram: None,
            };
        }
        let q = |x: f64| h.value_at_quantile(x);
        Summary {
            count: h.len(),
            min: h.min(),
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: h.max(),
            mean: h.mean(),
            stddev: h.stdev(),
            histogram: None,
        }
    }

    /// Decodes the embedded histogram.
    pub fn decode(&self) -> Option<Histogram<u64>> {
        self.histogram.as_deref().and_then(|s| decode(s).ok())
    }
}

/// Serializes a histogram (V2 deflate) and base64-encodes it.
pub fn encode(h: &Histogram<u64>) -> Result<String, String> {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .map_err(|e| format!("{e:?}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(buf))
}

/// Decodes a base64 V2 / V2-deflate histogram.
pub fn decode(s: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| e.to_string())?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("{e:?}"))
}

/// Median of a slice (sorted copy). `None` when empty.
pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Least-squares fit `y = a + b x`; returns `(intercept, slope)`. `None` with < 2 distinct x.
pub fn linear_fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let b = sxy / sxx;
    Some((my - b * mx, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_values() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v).unwrap();
        }
        let s = Summary::of(&h);
        assert_eq!(s.count, 1000);
        assert_eq!(s.min, 1);
        assert_eq!(s.max, 1000);
        assert_eq!(s.p50, 500);
        assert_eq!(s.p90, 900);
        assert_eq!(s.p99, 990);
        assert_eq!(s.p999, 999);
        assert!((s.mean - 500.5).abs() < 0.01);
        assert!((s.stddev - 288.67).abs() < 0.1);
    }

    #[test]
    fn histogram_round_trips_and_grows() {
        let mut h = new_histogram();
        h.record(250).unwrap();
        h.record(30_000_000_000).unwrap(); // 30 s: beyond the initial bound
        let s = Summary::of(&h);
        assert!(s.histogram.as_deref().unwrap().starts_with("HISTF"));
        let back = s.decode().unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back.min(), h.min());
        assert_eq!(back.max(), h.max());
        assert_eq!(Summary::bare(&back), Summary::bare(&h));
    }

    #[test]
    fn empty_summary_is_zero() {
        let s = Summary::of(&new_histogram());
        assert_eq!(s.count, 0);
        assert_eq!(s.p99, 0);
    }

    #[test]
    fn median_and_fit() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let (a, b) = linear_fit(&[(0.0, 5.0), (1.0, 7.0), (2.0, 9.0)]).unwrap();
        assert!((a - 5.0).abs() < 1e-9 && (b - 2.0).abs() < 1e-9);
        assert_eq!(linear_fit(&[(1.0, 1.0), (1.0, 2.0)]), None);
    }
}
