//! The stack file model: `stackwright.toml` parsed, validated and resolved.
//!
//! `raw` holds the file as written (with source spans), `validate` turns it
//! into the span-free [`model`] that the local runtime and the cloud
//! synthesizer consume, or into [`Diagnostics`] naming file:line:column.

#![warn(clippy::too_many_lines)]

pub mod decimal;
pub mod diagnostic;
pub mod env;
pub mod model;
pub mod openapi;
mod raw;
mod read;
pub mod validate;
pub mod values;

use std::path::{Path, PathBuf};

pub use diagnostic::{Diagnostic, Diagnostics};
pub use model::*;

/// The stack file's name inside a stack folder.
pub const STACK_FILE: &str = "stackwright.toml";

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {reason}")]
    Read {
        path: PathBuf,
        reason: std::io::Error,
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
    read_and_parse(dir, engine, true)
}

/// The stack as a deployed runtime reads it, when its site is served from
/// a bucket ([`env::SITE_SERVED_ELSEWHERE`]): the package holds the stack
/// file and the seeds, not the site's folder, so the site is not looked for
/// and not part of the result.
pub fn load_deployed(dir: &Path) -> Result<Stack, LoadError> {
    let mut stack = read_and_parse(dir, None, false)?;
    stack.site = None;
    Ok(stack)
}

fn read_and_parse(
    dir: &Path,
    engine: Option<CloudEngine>,
    site_files: bool,
) -> Result<Stack, LoadError> {
    let file = stack_file_path(dir);
    let source = std::fs::read_to_string(&file).map_err(|source| LoadError::Read {
        path: file.clone(),
        reason: source,
    })?;
    validate::parse_with(&file, &source, engine, site_files).map_err(LoadError::Invalid)
}
