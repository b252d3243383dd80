//! Lock files for folders that several processes share: a cache that array tasks build, a
//! run folder, a sweep point. They must hold on the network file systems clusters use, where
//! `flock` is unreliable, and survive a task that is killed (SIGKILL, preemption) without
//! releasing its lock.
//!
//! - A lock is taken by writing its content (host, pid, start time, purpose) to a unique
//!   temporary file and hard-linking it to the lock's name: the link is atomic, fails when
//!   the name exists (on NFS too, unlike `O_EXCL` on old versions), and readers never see a
//!   half-written lock.
//! - While held, a thread touches the lock every [`HEARTBEAT`]; it is removed on drop.
//! - A lock is stale when its holder is a process of this host that no longer runs, or when
//!   it has not been touched for [`STALE_AFTER`] (a holder on another host that died). A
//!   stale lock is moved aside under a unique name before it is replaced; if what was moved
//!   turns out to be a fresh lock (another process replaced the stale one first), it is
//!   linked back.
//!
//! Written by hand: the lock-file crates on crates.io use `flock` / `fcntl` (unreliable on
//! NFS) or know neither hosts nor stale locks.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often a held lock is touched.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// A lock untouched for this long is stale whoever holds it.
pub const STALE_AFTER: Duration = Duration::from_secs(120);

/// Who holds a lock, as its file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Host name of the holder.
    pub host: String,
    /// Process id on that host.
    pub pid: u32,
    /// When it took the lock (seconds since the Unix epoch).
    pub since: u64,
    /// What it holds the lock for.
    pub purpose: String,
    /// The lock file's content, which identifies this holding.
    token: String,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let age = now_s().saturating_sub(self.since);
        write!(
            f,
            "process {} on {} ({}, for {age} s)",
            self.pid, self.host, self.purpose
        )
    }
}

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    token: String,
    /// Dropped (or sent to) on release: wakes the heartbeat at once, so a release never waits
    /// for its next tick (a 250 ms poll added up to a quarter second to every extraction).
    stop: Option<mpsc::Sender<()>>,
    heartbeat: Option<JoinHandle<()>>,
}

/// This machine's host name.
pub fn host() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A name beside `path` that no other process or call uses: `<name>.<host>.<pid>.<n>.<suffix>`.
pub fn unique_sibling(path: &Path, suffix: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(
        ".{}.{}.{nanos}-{n}.{suffix}",
        host(),
        std::process::id()
    ));
    path.with_file_name(name)
}

fn parse(text: &str) -> Option<Holder> {
    let mut host = None;
    let (mut pid, mut since, mut purpose) = (None, None, String::new());
    for line in text.lines() {
        match line.split_once('=') {
            Some(("host", v)) => host = Some(v.to_string()),
            Some(("pid", v)) => pid = v.parse().ok(),
            Some(("since", v)) => since = v.parse().ok(),
            Some(("purpose", v)) => purpose = v.to_string(),
            _ => {}
        }
    }
    Some(Holder {
        host: host?,
        pid: pid?,
        since: since?,
        purpose,
        token: text.to_string(),
    })
}

/// Whether process `pid` of this host runs (unknown without /proc: assumed running, so
/// only the heartbeat decides).
fn alive(pid: u32) -> bool {
    let proc_root = Path::new("/proc");
    !proc_root.join("self").exists() || proc_root.join(pid.to_string()).exists()
}

/// The holder of the lock at `path` and whether it is stale; `None` when there is no lock
/// (or it vanished while being read).
fn inspect(path: &Path) -> io::Result<Option<(Holder, bool)>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let age = fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default();
    let Some(h) = parse(&text) else {
        // Not a lock this crate wrote (or a foreign format): stale once untouched.
        let h = Holder {
            host: "?".into(),
            pid: 0,
            since: 0,
            purpose: "unreadable lock file".into(),
            token: text,
        };
        return Ok(Some((h, age >= STALE_AFTER)));
    };
    let dead_here = h.host == host() && !alive(h.pid);
    Ok(Some((h.clone(), dead_here || age >= STALE_AFTER)))
}

/// Moves a stale lock aside; if another process had already replaced it with a fresh one,
/// puts that one back.
fn break_stale(path: &Path, stale: &Holder) -> io::Result<()> {
    let aside = unique_sibling(path, "stale");
    match fs::rename(path, &aside) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    let moved = fs::read_to_string(&aside).unwrap_or_default();
    if moved != stale.token {
        // A fresh lock: restore it (fails only if yet another process took the name).
        let _ = fs::hard_link(&aside, path);
    }
    fs::remove_file(&aside)
}

impl Lock {
    /// Takes the lock at `path` for `purpose`, or says who holds it. A stale lock is
    /// replaced.
    pub fn try_acquire(path: &Path, purpose: &str) -> io::Result<Result<Lock, Holder>> {
        let token = format!(
            "host={}\npid={}\nsince={}\npurpose={}\nnonce={}\n",
            host(),
            std::process::id(),
            now_s(),
            purpose.replace('\n', " "),
            unique_sibling(path, "").display()
        );
        let tmp = unique_sibling(path, "lock-tmp");
        fs::write(&tmp, &token)?;
        let taken = loop {
            match fs::hard_link(&tmp, path) {
                Ok(()) => break Ok(()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match inspect(path)? {
                    None => continue,
                    Some((h, true)) => break_stale(path, &h)?,
                    Some((h, false)) => break Err(h),
                },
                Err(e) => {
                    let _ = fs::remove_file(&tmp);
                    return Err(e);
                }
            }
        };
        let _ = fs::remove_file(&tmp);
        Ok(taken.map(|()| Lock::start(path, token)))
    }

    /// Takes the lock at `path`, waiting while another live process holds it;
    /// `waiting` is told who, once per holder.
    pub fn acquire(
        path: &Path,
        purpose: &str,
        mut waiting: impl FnMut(&Holder),
    ) -> io::Result<Lock> {
        let mut told: Option<Holder> = None;
        let mut pause = Duration::from_millis(50);
        loop {
            match Lock::try_acquire(path, purpose)? {
                Ok(lock) => return Ok(lock),
                Err(h) => {
                    if told.as_ref() != Some(&h) {
                        waiting(&h);
                        told = Some(h);
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    fn start(path: &Path, token: String) -> Lock {
        let (stop, stopped) = mpsc::channel::<()>();
        let p = path.to_path_buf();
        let heartbeat = std::thread::Builder::new()
            .name("ser-lock heartbeat".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(HEARTBEAT) {
                    if let Ok(f) = fs::File::options().append(true).open(&p) {
                        let _ = f.set_modified(SystemTime::now());
                    }
                }
            })
            .ok();
        Lock {
            path: path.to_path_buf(),
            token,
            stop: Some(stop),
            heartbeat,
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.heartbeat.take() {
            let _ = h.join();
        }
        // Only our own lock: a lock broken as stale and retaken belongs to someone else.
        if fs::read_to_string(&self.path).is_ok_and(|t| t == self.token) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_held_lock_names_its_holder_and_is_free_again_after_drop() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.lock");
        let a = Lock::try_acquire(&p, "building x").unwrap().unwrap();
        let h = Lock::try_acquire(&p, "again").unwrap().unwrap_err();
        assert_eq!(
            (h.pid, h.host.as_str()),
            (std::process::id(), host().as_str())
        );
        assert!(h.to_string().contains("building x"), "{h}");
        drop(a);
        assert!(!p.exists());
        let b = Lock::try_acquire(&p, "second").unwrap().unwrap();
        assert!(b.path().exists());
        // Nothing but the lock is left beside it.
        let names: Vec<_> = fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_dead_holders_lock_is_stale_and_taken_over() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.lock");
        // A process of this host that has exited.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        fs::write(
            &p,
            format!("host={}\npid={pid}\nsince=1\npurpose=killed\n", host()),
        )
        .unwrap();
        let lock = Lock::try_acquire(&p, "takeover").unwrap();
        assert!(lock.is_ok(), "a dead holder's lock must be taken over");
        // A live holder on another host with a fresh heartbeat is respected.
        drop(lock);
        fs::write(&p, "host=elsewhere\npid=1\nsince=1\npurpose=alive\n").unwrap();
        let h = Lock::try_acquire(&p, "x").unwrap().unwrap_err();
        assert_eq!(h.host, "elsewhere");
        // ... until its heartbeat is older than STALE_AFTER.
        let old = SystemTime::now() - STALE_AFTER - Duration::from_secs(1);
        fs::File::options()
            .append(true)
            .open(&p)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(Lock::try_acquire(&p, "x").unwrap().is_ok());
    }

    #[test]
    fn many_threads_contending_take_the_lock_one_at_a_time() {
        let d = tempfile::tempdir().unwrap();
        let p = Arc::new(d.path().join("x.lock"));
        let inside = Arc::new(AtomicU64::new(0));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (p, inside) = (p.clone(), inside.clone());
                std::thread::spawn(move || {
                    for _ in 0..3 {
                        let _l = Lock::acquire(&p, "count", |_| {}).unwrap();
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                        std::thread::sleep(Duration::from_millis(2));
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
}
