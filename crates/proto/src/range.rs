//! The HTTP `Range` header of file downloads (RFC 9110 §14.1.2), as the
//! server reads it: one `bytes=` range; a client resuming a download sends
//! `bytes=START-`.

use thiserror::Error;

/// The range cannot be served (answer 416).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("malformed or unsatisfiable byte range")]
pub struct RangeError;

/// The inclusive byte range `value` asks for within a file of `len` bytes;
/// `Ok(None)` means the whole file (several ranges are answered that way).
/// A returned `(start, end)` always has `start <= end < len`.
pub fn byte_range(value: &str, len: u64) -> Result<Option<(u64, u64)>, RangeError> {
    let spec = value.strip_prefix("bytes=").ok_or(RangeError)?;
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(RangeError)?;
    let num = |s: &str| s.parse::<u64>().map_err(|_| RangeError);
    let last = len.checked_sub(1).ok_or(RangeError)?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", suffix) => (len.saturating_sub(num(suffix)?), last),
        (s, "") => (num(s)?, last),
        (s, e) => (num(s)?, num(e)?.min(last)),
    };
    if start > end {
        return Err(RangeError);
    }
    Ok(Some((start, end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(byte_range("bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(byte_range("bytes=90-", 100), Ok(Some((90, 99))));
        assert_eq!(byte_range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(byte_range("bytes=-1000", 100), Ok(Some((0, 99))));
        assert_eq!(byte_range("bytes=50-1000", 100), Ok(Some((50, 99))));
        assert_eq!(byte_range("bytes=0-1,5-6", 100), Ok(None));
        for bad in [
            "bytes=100-",
            "bytes=9-5",
            "bytes=x-",
            "items=0-1",
            "bytes=5",
            "bytes=-",
        ] {
            assert_eq!(byte_range(bad, 100), Err(RangeError), "{bad}");
        }
        assert_eq!(byte_range("bytes=0-", 0), Err(RangeError));
        assert_eq!(byte_range("bytes=-0", 100), Err(RangeError));
    }
}
