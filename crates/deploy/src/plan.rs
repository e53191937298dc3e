//! What a deploy is about to do and what it did, as plain data: the
//! changes of one layer's change set and the events of a stack. The
//! deployer decides on them; the CLI shows them; fakes produce them in tests.

use serde::Serialize;

/// One resource of a deployed stack.
#[derive(Debug, Clone, Serialize)]
pub struct Resource {
    pub logical_id: String,
    pub physical_id: String,
    pub resource_type: String,
    pub status: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Add,
    Modify,
    Remove,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Replacement {
    Never,
    /// Depends on values CloudFormation learns during the update.
    Conditional,
    Always,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub action: Action,
    pub logical_id: String,
    pub resource_type: String,
    pub replacement: Replacement,
}

impl Change {
    /// A data-holding resource that would be replaced or removed.
    pub fn loses_data(&self) -> bool {
        stackwright_synth::resources::of(&self.resource_type).is_some_and(|f| f.holds_data)
            && (self.action == Action::Remove
                || (self.action == Action::Modify && self.replacement != Replacement::Never))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub stack: String,
    /// None when the template and parameters change nothing.
    pub change_set: Option<String>,
    pub creates_stack: bool,
    pub changes: Vec<Change>,
}

/// One stack event, as it is shown while a deploy runs.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
}
