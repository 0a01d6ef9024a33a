//! Result sets: what `compare`, `report` and `export` read.
//!
//! A path names one result file, or a directory holding `results.json` and/or
//! `repeat-*/results.json` (what `kobench run --repeat N` writes). The runs of one path
//! are the repeats of one configuration on one machine: [`ResultSet::merged`] pools their
//! histograms per measurement id.

use kobench_harness::schema::{self, LoadError, Measurement, RunResult};
use kobench_harness::stats::Summary;
use std::path::{Path, PathBuf};

/// The runs read from one path.
#[derive(Clone, Debug)]
pub struct ResultSet {
    /// The path as given.
    pub path: String,
    pub runs: Vec<RunResult>,
}

/// Files of a path: itself, or `results.json` and `repeat-*/results.json` under it.
fn files_of(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    let own = path.join("results.json");
    if own.is_file() {
        files.push(own);
    }
    let rd = std::fs::read_dir(path).map_err(|source| LoadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let mut subs: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("repeat-"))
        .map(|e| e.path().join("results.json"))
        .filter(|p| p.is_file())
        .collect();
    subs.sort();
    files.extend(subs);
    if files.is_empty() {
        return Err(LoadError::Io {
            path: path.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "directory holds no results.json nor repeat-*/results.json",
            ),
        });
    }
    Ok(files)
}

impl ResultSet {
    /// Loads every result under `path`; the first bad file is the error (it names the file).
    pub fn load(path: &Path) -> Result<ResultSet, LoadError> {
        let runs = files_of(path)?
            .iter()
            .map(|f| schema::load(f))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ResultSet {
            path: path.display().to_string(),
            runs,
        })
    }

    /// A set from runs already in memory (tests).
    pub fn from_runs(path: &str, runs: Vec<RunResult>) -> ResultSet {
        ResultSet {
            path: path.into(),
            runs,
        }
    }

    /// The first run: its fingerprint, profile and CPUs stand for the set.
    pub fn first(&self) -> &RunResult {
        &self.runs[0]
    }

    /// Every measurement, pooled over the runs by id, in first-seen order.
    pub fn merged(&self) -> Vec<Merged> {
        let mut out: Vec<Merged> = Vec::new();
        for r in &self.runs {
            for w in &r.workloads {
                for m in &w.measurements {
                    match out.iter_mut().find(|x| x.m.id == m.id) {
                        Some(x) => x.add(m),
                        None => out.push(Merged::new(&w.name, m)),
                    }
                }
            }
        }
        for x in &mut out {
            x.finish();
        }
        out
    }
}

/// One measurement pooled over the repeats of a set.
#[derive(Clone, Debug)]
pub struct Merged {
    pub workload: String,
    /// The first repeat's measurement, with `summary` replaced by the pooled summary.
    pub m: Measurement,
    /// The pooled histogram, when every repeat stored one.
    pub hist: Option<hdrhistogram::Histogram<u64>>,
    /// Each repeat's p50 (in run order).
    pub p50s: Vec<f64>,
    complete: bool,
}

impl Merged {
    fn new(workload: &str, m: &Measurement) -> Merged {
        let hist = m.summary.decode();
        Merged {
            workload: workload.into(),
            complete: hist.is_some(),
            hist,
            p50s: vec![m.summary.p50 as f64],
            m: m.clone(),
        }
    }

    fn add(&mut self, m: &Measurement) {
        self.p50s.push(m.summary.p50 as f64);
        match (self.hist.as_mut(), m.summary.decode()) {
            (Some(h), Some(o)) => {
                if h.add(&o).is_err() {
                    self.complete = false;
                }
            }
            _ => self.complete = false,
        }
    }

    fn finish(&mut self) {
        if !self.complete {
            self.hist = None;
        }
        if self.p50s.len() > 1 {
            if let Some(h) = &self.hist {
                self.m.summary = Summary::bare(h);
            }
        }
    }

    /// The value reports plot and exports publish: the pooled p50, or the median of the
    /// repeats' p50s when histograms are missing.
    pub fn p50(&self) -> f64 {
        match (&self.hist, self.p50s.len()) {
            (Some(_), _) | (None, 1) => self.m.summary.p50 as f64,
            _ => crate::stats::median(&self.p50s).unwrap_or(0.0),
        }
    }
}
