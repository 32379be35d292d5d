//! Consumer groups: durably committed offsets, and in-process membership with range assignment.
//!
//! Committed offsets of a group live in `groups/<group>.offsets`, rewritten atomically (temp file,
//! fsync, rename, fsync directory) on every commit. Format (little-endian):
//!
//! ```text
//! u32 magic "AGO1" (0x314F4741) | u32 entry_count
//! per entry: u16 topic_length | topic (UTF-8) | u32 partition | u64 offset
//! u32 CRC-32C of everything before it
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use aurum_vfs::{OpenMode, Vfs};
use parking_lot::Mutex;

use crate::config::validate_name;
use crate::error::{Error, IoContext, Result};
use crate::record::DecodeError;

const OFFSETS_MAGIC: u32 = 0x314F_4741;
/// Most (topic, partition) offsets one group may commit.
pub const MAX_GROUP_OFFSETS: usize = 1 << 16;

/// Committed offsets of one group, keyed by (topic, partition).
pub type Offsets = BTreeMap<(String, u32), u64>;

/// Encode a group's committed offsets.
pub fn encode_offsets(offsets: &Offsets) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&OFFSETS_MAGIC.to_le_bytes());
    out.extend_from_slice(&(offsets.len() as u32).to_le_bytes());
    for ((topic, partition), offset) in offsets {
        out.extend_from_slice(&(topic.len() as u16).to_le_bytes());
        out.extend_from_slice(topic.as_bytes());
        out.extend_from_slice(&partition.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Decode a group's committed offsets, verifying magic, lengths and CRC.
pub fn decode_offsets(bytes: &[u8]) -> Result<Offsets, DecodeError> {
    let err = |s: &str| DecodeError(s.to_string());
    if bytes.len() < 12 {
        return Err(err("offsets file shorter than its header and CRC"));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32c::crc32c(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
        return Err(err("offsets file CRC mismatch"));
    }
    let u32_at = |b: &[u8], i: usize| -> Result<u32, DecodeError> {
        b.get(i..i + 4).map(|s| u32::from_le_bytes(s.try_into().expect("4"))).ok_or_else(|| err("truncated"))
    };
    if u32_at(body, 0)? != OFFSETS_MAGIC {
        return Err(err("bad offsets magic"));
    }
    let count = u32_at(body, 4)? as usize;
    if count > MAX_GROUP_OFFSETS {
        return Err(err("too many offsets"));
    }
    let mut pos = 8;
    let mut out = Offsets::new();
    for _ in 0..count {
        let tlen = body
            .get(pos..pos + 2)
            .map(|s| u16::from_le_bytes([s[0], s[1]]) as usize)
            .ok_or_else(|| err("truncated"))?;
        pos += 2;
        let topic = body.get(pos..pos + tlen).ok_or_else(|| err("truncated topic"))?;
        let topic = std::str::from_utf8(topic).map_err(|_| err("topic is not UTF-8"))?.to_string();
        pos += tlen;
        let partition = u32_at(body, pos)?;
        pos += 4;
        let offset = body
            .get(pos..pos + 8)
            .map(|s| u64::from_le_bytes(s.try_into().expect("8")))
            .ok_or_else(|| err("truncated offset"))?;
        pos += 8;
        out.insert((topic, partition), offset);
    }
    if pos != body.len() {
        return Err(err("trailing bytes in offsets file"));
    }
    Ok(out)
}

#[derive(Debug, Default)]
struct Group {
    offsets: Offsets,
    /// member id → subscribed topics
    members: BTreeMap<String, BTreeSet<String>>,
    generation: u64,
}

/// All groups of a log.
#[derive(Debug)]
pub struct GroupStore {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    groups: Mutex<HashMap<String, Arc<Mutex<Group>>>>,
}

impl GroupStore {
    /// Open the groups directory.
    pub fn open(vfs: Arc<dyn Vfs>, dir: PathBuf) -> Result<GroupStore> {
        vfs.create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
        Ok(GroupStore { vfs, dir, groups: Mutex::new(HashMap::new()) })
    }

    fn path(&self, group: &str) -> PathBuf {
        self.dir.join(format!("{group}.offsets"))
    }

    fn group(&self, name: &str) -> Result<Arc<Mutex<Group>>> {
        validate_name("group", name)?;
        let mut groups = self.groups.lock();
        if let Some(g) = groups.get(name) {
            return Ok(g.clone());
        }
        let path = self.path(name);
        let offsets = if self.vfs.exists(&path).ctx(|| format!("stat {}", path.display()))? {
            let f = self.vfs.open(&path, OpenMode::Read).ctx(|| format!("open {}", path.display()))?;
            let bytes = f.read_all().ctx(|| format!("read {}", path.display()))?;
            decode_offsets(&bytes).map_err(|e| Error::Corrupt { file: path.clone(), offset: 0, reason: e.0 })?
        } else {
            Offsets::new()
        };
        let g = Arc::new(Mutex::new(Group { offsets, ..Group::default() }));
        groups.insert(name.to_string(), g.clone());
        Ok(g)
    }

    /// Durably record that `group` has consumed `topic`/`partition` up to (not including) `offset`.
    pub fn commit(&self, group: &str, topic: &str, partition: u32, offset: u64) -> Result<()> {
        self.commit_many(group, &[(topic.to_string(), partition, offset)])
    }

    /// Commit several offsets atomically.
    pub fn commit_many(&self, group: &str, entries: &[(String, u32, u64)]) -> Result<()> {
        let g = self.group(group)?;
        let mut g = g.lock();
        let mut next = g.offsets.clone();
        for (topic, partition, offset) in entries {
            next.insert((topic.clone(), *partition), *offset);
        }
        if next.len() > MAX_GROUP_OFFSETS {
            return Err(Error::invalid("commit", format!("more than MAX_GROUP_OFFSETS = {MAX_GROUP_OFFSETS}")));
        }
        let path = self.path(group);
        aurum_vfs::write_atomic(&*self.vfs, &path, &encode_offsets(&next))
            .ctx(|| format!("commit offsets to {}", path.display()))?;
        g.offsets = next;
        Ok(())
    }

    /// The committed offset, if any.
    pub fn committed(&self, group: &str, topic: &str, partition: u32) -> Result<Option<u64>> {
        let g = self.group(group)?;
        let g = g.lock();
        Ok(g.offsets.get(&(topic.to_string(), partition)).copied())
    }

    /// Add a member; returns the new generation.
    pub fn join(&self, group: &str, member: &str, topics: &[String]) -> Result<u64> {
        let g = self.group(group)?;
        let mut g = g.lock();
        g.members.insert(member.to_string(), topics.iter().cloned().collect());
        g.generation += 1;
        Ok(g.generation)
    }

    /// Remove a member; returns the new generation.
    pub fn leave(&self, group: &str, member: &str) -> Result<u64> {
        let g = self.group(group)?;
        let mut g = g.lock();
        if g.members.remove(member).is_some() {
            g.generation += 1;
        }
        Ok(g.generation)
    }

    /// The member's partitions under the range assignor (per topic, subscribed members sorted by
    /// id, partitions split into contiguous ranges, the first members taking one extra), and the
    /// generation they belong to. `partitions_of` gives each topic's partition count.
    pub fn assignment(
        &self,
        group: &str,
        member: &str,
        partitions_of: impl Fn(&str) -> Option<u32>,
    ) -> Result<(u64, Vec<(String, u32)>)> {
        let g = self.group(group)?;
        let g = g.lock();
        let Some(my_topics) = g.members.get(member) else {
            return Err(Error::invalid("member", format!("{member:?} is not in group {group:?}")));
        };
        let mut out = Vec::new();
        for topic in my_topics {
            let Some(n) = partitions_of(topic) else { continue };
            let subscribers: Vec<&String> =
                g.members.iter().filter(|(_, t)| t.contains(topic)).map(|(m, _)| m).collect();
            let idx = subscribers.iter().position(|m| *m == member).expect("member subscribes");
            let count = subscribers.len() as u32;
            let (per, extra) = (n / count, n % count);
            let idx = idx as u32;
            let start = idx * per + idx.min(extra);
            let len = per + u32::from(idx < extra);
            out.extend((start..start + len).map(|p| (topic.clone(), p)));
        }
        Ok((g.generation, out))
    }

    /// Current generation of a group.
    pub fn generation(&self, group: &str) -> Result<u64> {
        Ok(self.group(group)?.lock().generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_and_detect_corruption() {
        let mut o = Offsets::new();
        o.insert(("journal".into(), 0), 42);
        o.insert(("journal".into(), 3), 7);
        let bytes = encode_offsets(&o);
        assert_eq!(decode_offsets(&bytes).unwrap(), o);
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(decode_offsets(&b).is_err(), "flip at {i} undetected");
        }
    }

    #[test]
    fn range_assignment_covers_every_partition_once() {
        let vfs: Arc<dyn Vfs> = Arc::new(aurum_vfs::SimVfs::new(1));
        let store = GroupStore::open(vfs, PathBuf::from("/g")).unwrap();
        let topics = vec!["t".to_string()];
        for m in ["a", "b", "c"] {
            store.join("grp", m, &topics).unwrap();
        }
        let mut all = Vec::new();
        for m in ["a", "b", "c"] {
            let (_, parts) = store.assignment("grp", m, |_| Some(7)).unwrap();
            all.extend(parts);
        }
        all.sort();
        assert_eq!(all, (0..7).map(|p| ("t".to_string(), p)).collect::<Vec<_>>());
    }
}
