//! `/proc/<pid>/maps` parsing for the W^X checks: which mappings are executable, which are
//! writable, and whether any is both (proc(5), "/proc/pid/maps").

/// One line of `/proc/<pid>/maps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapLine {
    pub start: usize,
    pub end: usize,
    /// The four permission characters, e.g. `r-xs`.
    pub perms: String,
    /// The path or pseudo-path (`/memfd:kobench-jit (deleted)`, `[heap]`), or empty.
    pub path: String,
}

impl MapLine {
    pub fn readable(&self) -> bool {
        self.perms.as_bytes().first() == Some(&b'r')
    }
    pub fn writable(&self) -> bool {
        self.perms.as_bytes().get(1) == Some(&b'w')
    }
    pub fn executable(&self) -> bool {
        self.perms.as_bytes().get(2) == Some(&b'x')
    }
    /// Whether `[addr, addr+len)` lies inside this mapping.
    pub fn covers(&self, addr: usize, len: usize) -> bool {
        addr >= self.start && addr + len <= self.end
    }
}

/// Parses the text of a maps file; unparsable lines are skipped.
pub fn parse(text: &str) -> Vec<MapLine> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let range = it.next()?;
            let perms = it.next()?.to_string();
            let (a, b) = range.split_once('-')?;
            let start = usize::from_str_radix(a, 16).ok()?;
            let end = usize::from_str_radix(b, 16).ok()?;
            // offset, dev, inode, then the (possibly space-containing) path.
            let path = it.skip(3).collect::<Vec<_>>().join(" ");
            Some(MapLine {
                start,
                end,
                perms,
                path,
            })
        })
        .collect()
}

/// Mappings that are writable and executable at once (W^X violations).
pub fn writable_and_executable(maps: &[MapLine]) -> Vec<&MapLine> {
    maps.iter()
        .filter(|m| m.writable() && m.executable())
        .collect()
}

/// The permissions of the mapping covering `[addr, addr+len)`, if one does.
pub fn perms_at(maps: &[MapLine], addr: usize, len: usize) -> Option<String> {
    maps.iter()
        .find(|m| m.covers(addr, len))
        .map(|m| m.perms.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0                          [heap]
7f1c2a000000-7f1c2a001000 r-xs 00000000 00:01 1234                       /memfd:kobench-jit (deleted)
7f1c2a100000-7f1c2a101000 rw-s 00000000 00:01 1234                       /memfd:kobench-jit (deleted)
7f1c2a200000-7f1c2a202000 rwxp 00000000 00:00 0
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
";

    #[test]
    fn parses_ranges_perms_and_paths() {
        let m = parse(SAMPLE);
        assert_eq!(m.len(), 5);
        assert_eq!(m[1].start, 0x7f1c_2a00_0000);
        assert_eq!(m[1].end, 0x7f1c_2a00_1000);
        assert_eq!(m[1].perms, "r-xs");
        assert_eq!(m[1].path, "/memfd:kobench-jit (deleted)");
        assert_eq!(m[3].path, "");
        assert!(m[1].executable() && !m[1].writable() && m[1].readable());
        assert!(m[2].writable() && !m[2].executable());
    }

    #[test]
    fn finds_wx_mappings_and_perms_at_an_address() {
        let m = parse(SAMPLE);
        let wx = writable_and_executable(&m);
        assert_eq!(wx.len(), 1);
        assert_eq!(wx[0].start, 0x7f1c_2a20_0000);
        assert_eq!(perms_at(&m, 0x7f1c_2a00_0010, 16).as_deref(), Some("r-xs"));
        assert_eq!(perms_at(&m, 0x7f1c_2a10_0ff8, 8).as_deref(), Some("rw-s"));
        assert_eq!(perms_at(&m, 0x7f1c_2a10_0ff8, 16), None);
        assert_eq!(perms_at(&m, 0x1000, 1), None);
    }
}
