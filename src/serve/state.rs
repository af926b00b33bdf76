//! The one snapshot every request reads: each fleet's Docker and GitHub sides (joined into
//! members), the lock directory's resources and the ledger. Refreshers write their part;
//! readers take an `Arc` of the whole, so a hundred viewers cost what one costs. A version
//! counter moves only when something a viewer would see changed (not every tick of a "held
//! for" clock), and wakes the live connections.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

use runner_wrapper::contract::now_epoch_ms;
use runner_wrapper::ledger::Ledger;
use runner_wrapper::status::ResourceStatus;

use crate::model::fleet::{Member, RemoteRunner, Side};
use crate::world::github::ApiStats;
use crate::world::observe::Local;

/// What a fleet is, as shown (nothing secret: no PAT, no token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetInfo {
    /// The settings file's name (`acme.env`).
    pub name: String,
    pub org: String,
    pub repo: Option<String>,
    pub prefix: String,
    pub image: String,
    pub lock_dir: PathBuf,
    pub github_refresh: Duration,
}

impl FleetInfo {
    /// `org` or `org/repo`.
    pub fn scope(&self) -> String {
        match &self.repo {
            Some(repo) => format!("{}/{repo}", self.org),
            None => self.org.clone(),
        }
    }
}

/// GitHub's side of one fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubSide {
    pub runners: Side<Vec<RemoteRunner>>,
    /// When it last answered (epoch ms).
    pub last_ok_ms: Option<u64>,
    /// False when the fleet has no GH_PAT: GitHub is never asked.
    pub asked: bool,
}

impl Default for GitHubSide {
    fn default() -> Self {
        GitHubSide {
            runners: Side::Unknown("not asked yet".into()),
            last_ok_ms: None,
            asked: true,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FleetView {
    pub info: Arc<FleetInfo>,
    pub docker: Side<Local>,
    pub github: GitHubSide,
    pub members: Vec<Member>,
    pub stats: Option<Arc<ApiStats>>,
}

/// The lock directories' side: resources (all directories' together) and the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockView {
    pub resources: Side<Vec<ResourceStatus>>,
    pub ledger: Side<Ledger>,
    /// When the directories were last read (epoch ms).
    pub read_ms: u64,
}

impl Default for LockView {
    fn default() -> Self {
        LockView {
            resources: Side::Unknown("not read yet".into()),
            ledger: Side::Unknown("not read yet".into()),
            read_ms: 0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub fleets: Vec<FleetView>,
    pub locks: LockView,
    pub version: u64,
    pub built_ms: u64,
}

/// The parts as the refreshers last wrote them.
struct Parts {
    docker: Vec<Side<Local>>,
    github: Vec<GitHubSide>,
    locks: LockView,
    /// Each fleet's board devices missing now, by runner (the device watcher's).
    missing_devices: Vec<Vec<(String, Vec<String>)>>,
}

pub struct Hub {
    pub infos: Vec<Arc<FleetInfo>>,
    stats: Vec<Option<Arc<ApiStats>>>,
    parts: Mutex<Parts>,
    current: RwLock<Arc<Snapshot>>,
    version: Mutex<u64>,
    changed: Condvar,
    stop: AtomicBool,
}

impl Hub {
    pub fn new(infos: Vec<FleetInfo>, stats: Vec<Option<Arc<ApiStats>>>) -> Hub {
        let n = infos.len();
        let infos: Vec<Arc<FleetInfo>> = infos.into_iter().map(Arc::new).collect();
        let parts = Parts {
            docker: vec![Side::Unknown("not read yet".into()); n],
            github: vec![GitHubSide::default(); n],
            locks: LockView::default(),
            missing_devices: vec![Vec::new(); n],
        };
        let snapshot = build(&infos, &stats, &parts, 0);
        Hub {
            infos,
            stats,
            parts: Mutex::new(parts),
            current: RwLock::new(Arc::new(snapshot)),
            version: Mutex::new(0),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
        }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn github_side(&self, fleet: usize) -> GitHubSide {
        self.parts.lock().unwrap_or_else(|e| e.into_inner()).github[fleet].clone()
    }

    pub fn set_docker(&self, fleet: usize, side: Side<Local>) {
        self.update(|p| {
            let changed = p.docker[fleet] != side;
            p.docker[fleet] = side;
            changed
        });
    }

    pub fn set_github(&self, fleet: usize, side: GitHubSide) {
        self.update(|p| {
            let changed = p.github[fleet].runners != side.runners;
            p.github[fleet] = side;
            changed
        });
    }

    pub fn set_missing_devices(&self, fleet: usize, missing: Vec<(String, Vec<String>)>) {
        self.update(|p| {
            let changed = p.missing_devices[fleet] != missing;
            p.missing_devices[fleet] = missing;
            changed
        });
    }

    pub fn set_locks(&self, view: LockView) {
        self.update(|p| {
            let changed = seen(&p.locks) != seen(&view);
            p.locks = view;
            changed
        });
    }

    /// Applies `change` (which says whether a viewer would see a difference), rebuilds the
    /// snapshot (its clocks are fresh either way), and wakes the live connections on a change.
    fn update(&self, change: impl FnOnce(&mut Parts) -> bool) {
        let mut parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        let changed = change(&mut parts);
        let mut version = self.version.lock().unwrap_or_else(|e| e.into_inner());
        if changed {
            *version += 1;
        }
        let snapshot = build(&self.infos, &self.stats, &parts, *version);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snapshot);
        drop(parts);
        if changed {
            self.changed.notify_all();
        }
    }

    /// Waits until the version passes `seen` or `timeout` ends (or the server stops); the
    /// version then.
    pub fn wait_change(&self, seen: u64, timeout: Duration) -> u64 {
        let version = self.version.lock().unwrap_or_else(|e| e.into_inner());
        let (version, _) = self
            .changed
            .wait_timeout_while(version, timeout, |v| {
                *v == seen && !self.stop.load(Ordering::SeqCst)
            })
            .unwrap_or_else(|e| e.into_inner());
        *version
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _guard = self.version.lock().unwrap_or_else(|e| e.into_inner());
        self.changed.notify_all();
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// The lock view without its clocks (held for, waiting for, health age), to tell a real
/// change from time passing.
fn seen(view: &LockView) -> (Side<Vec<ResourceStatus>>, Option<(usize, usize)>) {
    let resources = match &view.resources {
        Side::Known(list) => Side::Known(
            list.iter()
                .cloned()
                .map(|mut r| {
                    if let Some(h) = &mut r.holder {
                        h.held_for_secs = 0;
                    }
                    for w in &mut r.waiters {
                        w.waiting_for_secs = 0;
                    }
                    r
                })
                .collect(),
        ),
        Side::Unknown(e) => Side::Unknown(e.clone()),
    };
    let ledger = view
        .ledger
        .known()
        .map(|l| (l.entries.len(), l.counters.len()));
    (resources, ledger)
}

fn build(
    infos: &[Arc<FleetInfo>],
    stats: &[Option<Arc<ApiStats>>],
    parts: &Parts,
    version: u64,
) -> Snapshot {
    let fleets = infos
        .iter()
        .enumerate()
        .map(|(i, info)| {
            let local = parts.docker[i].known();
            let runners = local.map(|l| l.runners.as_slice()).unwrap_or_default();
            let volumes = local.map(|l| l.volumes.as_slice()).unwrap_or_default();
            let github = parts.github[i].runners.known().map(Vec::as_slice);
            // As `ghr list` joins them: a runner that is nothing but a volume shows too.
            let members = crate::model::fleet::with_volumes(
                crate::model::fleet::join(&info.prefix, runners, github),
                volumes,
                github.is_some(),
            );
            let members =
                crate::model::fleet::with_missing_devices(members, &parts.missing_devices[i]);
            FleetView {
                info: info.clone(),
                docker: parts.docker[i].clone(),
                github: parts.github[i].clone(),
                members,
                stats: stats.get(i).cloned().flatten(),
            }
        })
        .collect();
    Snapshot {
        fleets,
        locks: parts.locks.clone(),
        version,
        built_ms: now_epoch_ms(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner_wrapper::status::Holder;

    fn info() -> FleetInfo {
        FleetInfo {
            name: "acme.env".into(),
            org: "acme".into(),
            repo: None,
            prefix: "h-acme-".into(),
            image: "img".into(),
            lock_dir: "/tmp/locks".into(),
            github_refresh: Duration::from_secs(30),
        }
    }

    fn held(secs: u64) -> LockView {
        LockView {
            resources: Side::Known(vec![ResourceStatus {
                resource: "b1".into(),
                name: "b1".into(),
                locked: true,
                holder: Some(Holder {
                    record: Default::default(),
                    stale: false,
                    held_for_secs: secs,
                }),
                waiters: vec![],
                health: None,
                parked: Vec::new(),
            }]),
            ledger: Side::Known(Ledger::default()),
            read_ms: secs,
        }
    }

    #[test]
    fn the_version_moves_on_changes_not_on_clocks() {
        let hub = Hub::new(vec![info()], vec![None]);
        hub.set_locks(held(1));
        let v = hub.snapshot().version;
        hub.set_locks(held(2));
        assert_eq!(hub.snapshot().version, v, "a clock is no change");
        assert_eq!(
            hub.snapshot().locks.resources.known().unwrap()[0]
                .holder
                .as_ref()
                .unwrap()
                .held_for_secs,
            2,
            "but the snapshot has the fresh clock"
        );
        hub.set_locks(LockView::default());
        assert_eq!(hub.snapshot().version, v + 1);
        assert_eq!(hub.wait_change(v, Duration::from_millis(1)), v + 1);
    }

    #[test]
    fn members_join_both_sides() {
        let hub = Hub::new(vec![info()], vec![None]);
        let remote = RemoteRunner {
            id: 1,
            name: "h-acme-runner-1".into(),
            status: "online".into(),
            busy: false,
            labels: vec![],
            custom_labels: vec![],
            group_id: Some(1),
            ephemeral: false,
        };
        hub.set_github(
            0,
            GitHubSide {
                runners: Side::Known(vec![remote]),
                last_ok_ms: Some(1),
                asked: true,
            },
        );
        let s = hub.snapshot();
        assert_eq!(s.fleets[0].members.len(), 1);
        assert_eq!(s.version, 1);
    }
}
