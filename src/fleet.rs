//! The domain: which runners this fleet should have, and how local and GitHub state join.

use crate::boards::Board;
use crate::settings::Settings;

/// One runner the fleet should have. Its name is the container name and the GitHub name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredRunner {
    pub name: String,
    pub kind: RunnerKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunnerKind {
    Generic { index: u32 },
    Board(Board),
}

impl DesiredRunner {
    pub fn kind_label(&self) -> &'static str {
        match self.kind {
            RunnerKind::Generic { .. } => "generic",
            RunnerKind::Board(_) => "board",
        }
    }

    pub fn board(&self) -> Option<&Board> {
        match &self.kind {
            RunnerKind::Board(board) => Some(board),
            RunnerKind::Generic { .. } => None,
        }
    }

    /// Generic runners get `RUNNER_LABELS`; board runners only their own labels.
    pub fn labels<'a>(&'a self, settings: &'a Settings) -> &'a [String] {
        match &self.kind {
            RunnerKind::Generic { .. } => &settings.labels,
            RunnerKind::Board(board) => &board.labels,
        }
    }
}

/// `generic` runners `<prefix>runner-1..=N`, then one per board `<prefix>runner-<board>`.
pub fn desired(settings: &Settings, generic: u32) -> Vec<DesiredRunner> {
    let generic_runners = (1..=generic).map(|index| DesiredRunner {
        name: format!("{}runner-{index}", settings.prefix),
        kind: RunnerKind::Generic { index },
    });
    let board_runners = settings.boards.iter().map(|board| DesiredRunner {
        name: format!("{}runner-{}", settings.prefix, board.name),
        kind: RunnerKind::Board(board.clone()),
    });
    generic_runners.chain(board_runners).collect()
}
