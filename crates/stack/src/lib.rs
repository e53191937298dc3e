//! The stack file model: `stackwright.toml` parsed, validated and resolved.
//!
//! `raw` holds the file as written (with source spans), `validate` turns it
//! into the span-free [`model`] that the local runtime and the cloud
//! synthesizer consume, or into [`Diagnostics`] naming file:line:column.

pub mod diagnostic;
pub mod env;
pub mod model;
pub mod openapi;
mod raw;
pub mod validate;
pub mod values;

use std::path::{Path, PathBuf};

pub use diagnostic::{Diagnostic, Diagnostics};
pub use model::*;

/// The stack file's name inside a stack folder.
pub const STACK_FILE: &str = "stackwright.toml";

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// Path of the stack file for `dir`, which may also name the file itself.
pub fn stack_file_path(dir: &Path) -> PathBuf {
    if dir.is_file() {
        dir.to_path_buf()
    } else {
        dir.join(STACK_FILE)
    }
}

/// Read and validate the stack in `dir` (a folder holding `stackwright.toml`, or the file).
pub fn load(dir: &Path) -> Result<Stack, LoadError> {
    load_for(dir, None)
}

/// Like [`load`], checking the rules of `engine` instead of the stack's own.
pub fn load_for(dir: &Path, engine: Option<CloudEngine>) -> Result<Stack, LoadError> {
    let file = stack_file_path(dir);
    let source = std::fs::read_to_string(&file).map_err(|source| LoadError::Read {
        path: file.clone(),
        source,
    })?;
    validate::parse_for(&file, &source, engine).map_err(LoadError::Invalid)
}
