//! Checks shared by the fuzz targets in `fuzz_targets/`.

use serde::{Serialize, de::DeserializeOwned};
use std::fmt::Debug;

/// Whatever parses as `T` serializes and parses back to the same value,
/// and nothing panics on the way.
pub fn roundtrip<T>(data: &[u8]) -> Option<T>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let value: T = serde_json::from_slice(data).ok()?;
    let json = serde_json::to_string(&value).expect("a parsed value serializes");
    let again: T = serde_json::from_str(&json).expect("serialized JSON parses");
    assert_eq!(value, again, "round trip changed the value: {json}");
    Some(value)
}
