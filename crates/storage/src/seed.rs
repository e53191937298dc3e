//! Seed data: CSV or JSON files turned into typed rows, each with a stable
//! identity so it is applied exactly once (see [`crate::Engine::seed`]).

use std::path::Path;

use serde_json::Value as Json;
use stackwright_stack::values::{absent_value, check_value, normalize};
use stackwright_stack::{Column, ColumnType, Diagnostic, Diagnostics, SeedFormat, Stack, Table};

use crate::engine::{Row, SeedRow};

/// Read and check the seed rows of every table of `stack` that has a seed file.
pub fn load_all(stack: &Stack) -> Result<Vec<(&Table, Vec<SeedRow>)>, Diagnostics> {
    let mut all = Vec::new();
    let mut errors = Diagnostics::default();
    for table in stack.tables.values() {
        match load(&stack.dir, table) {
            Ok(Some(rows)) => all.push((table, rows)),
            Ok(None) => {}
            Err(e) => errors.0.extend(e.0),
        }
    }
    if errors.is_empty() {
        Ok(all)
    } else {
        Err(errors)
    }
}

/// The seed rows of `table`, or None when it has no seed file.
pub fn load(dir: &Path, table: &Table) -> Result<Option<Vec<SeedRow>>, Diagnostics> {
    let Some(seed) = &table.seed else {
        return Ok(None);
    };
    let path = dir.join(&seed.path);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        let mut d = Diagnostics::default();
        d.push(Diagnostic::at_line(
            &path,
            1,
            1,
            format!("cannot read seed file: {e}"),
        ));
        d
    })?;
    let rows = match seed.format {
        SeedFormat::Csv => from_csv(&path, &text, table)?,
        SeedFormat::Json => from_json(&path, &text, table)?,
    };
    Ok(Some(rows))
}

fn from_csv(path: &Path, text: &str, table: &Table) -> Result<Vec<SeedRow>, Diagnostics> {
    let mut errors = Diagnostics::default();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::None)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(e) => {
            errors.push(Diagnostic::at_line(
                path,
                1,
                1,
                format!("invalid CSV header: {e}"),
            ));
            return Err(errors);
        }
    };
    let mut col = 1;
    for h in &headers {
        if !table.columns.contains_key(h) {
            errors.push(
                Diagnostic::at_line(
                    path,
                    1,
                    col,
                    format!("unknown column `{h}` of table `{}`", table.name),
                )
                .with_hint(stackwright_stack::diagnostic::suggest(
                    h,
                    table.columns.keys().map(String::as_str),
                )),
            );
        }
        col += h.chars().count() + 1;
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(1, |p| p.line() as usize);
                errors.push(Diagnostic::at_line(
                    path,
                    line,
                    1,
                    format!("invalid CSV: {e}"),
                ));
                continue;
            }
        };
        let line = record.position().map_or(1, |p| p.line() as usize);
        let mut row = Row::new();
        let mut column_no = 1;
        let errors_before = errors.len();
        for (header, cell) in headers.iter().zip(record.iter()) {
            let column = &table.columns[header];
            match csv_cell(column, cell).and_then(|v| match v {
                Some(v) => check_value(column, &v).map(|()| Some(v)),
                None => Ok(None),
            }) {
                Ok(Some(v)) => {
                    row.insert(header.clone(), v);
                }
                Ok(None) => {}
                Err(why) => errors.push(Diagnostic::at_line(
                    path,
                    line,
                    column_no,
                    format!("column `{header}`: {why}"),
                )),
            }
            column_no += cell.chars().count() + 1;
        }
        if errors.len() > errors_before {
            continue;
        }
        match complete_row(table, row) {
            Ok(row) => rows.push(row),
            Err(why) => errors.push(Diagnostic::at_line(path, line, 1, why)),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// A CSV cell as a typed value; None for an empty cell (null or the default).
fn csv_cell(column: &Column, cell: &str) -> Result<Option<Json>, String> {
    if cell.is_empty() && !matches!(column.ty, ColumnType::Text | ColumnType::String { .. }) {
        return Ok(None);
    }
    if cell.is_empty() && (column.nullable || column.default.is_some()) {
        return Ok(None);
    }
    let value = match column.ty {
        ColumnType::Integer | ColumnType::BigInt => cell
            .trim()
            .parse::<i64>()
            .map(Json::from)
            .map_err(|_| format!("`{cell}` is not an integer"))?,
        ColumnType::Float => cell
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Json::Number)
            .ok_or_else(|| format!("`{cell}` is not a number"))?,
        ColumnType::Boolean => match cell.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Json::Bool(true),
            "false" | "0" | "no" => Json::Bool(false),
            _ => return Err(format!("`{cell}` is not a boolean (true/false)")),
        },
        ColumnType::Json => serde_json::from_str(cell).map_err(|e| format!("invalid JSON: {e}"))?,
        ColumnType::String { .. }
        | ColumnType::Text
        | ColumnType::Timestamp
        | ColumnType::Decimal { .. }
        | ColumnType::Date
        | ColumnType::Uuid => Json::String(cell.to_string()),
    };
    Ok(Some(value))
}

fn from_json(path: &Path, text: &str, table: &Table) -> Result<Vec<SeedRow>, Diagnostics> {
    let mut errors = Diagnostics::default();
    let items: Vec<Json> = match serde_json::from_str(text) {
        Ok(Json::Array(items)) => items,
        Ok(_) => {
            errors.push(Diagnostic::at_line(
                path,
                1,
                1,
                "a JSON seed file holds an array of objects",
            ));
            return Err(errors);
        }
        Err(e) => {
            errors.push(Diagnostic::at_line(
                path,
                e.line(),
                e.column(),
                format!("invalid JSON: {e}"),
            ));
            return Err(errors);
        }
    };
    let starts = element_offsets(text);
    let mut rows = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let offset = starts.get(i).copied().unwrap_or(0);
        let at = |message: String| Diagnostic::at(path, text, offset..offset + 1, message);
        let Json::Object(obj) = item else {
            errors.push(at(format!("item {} is not an object", i + 1)));
            continue;
        };
        let mut row = Row::new();
        for (k, v) in obj {
            match table.columns.get(&k) {
                None => errors.push(
                    at(format!("unknown column `{k}` of table `{}`", table.name)).with_hint(
                        stackwright_stack::diagnostic::suggest(
                            &k,
                            table.columns.keys().map(String::as_str),
                        ),
                    ),
                ),
                Some(_) => {
                    row.insert(k, v);
                }
            }
        }
        match complete_row(table, row) {
            Ok(row) => rows.push(row),
            Err(why) => errors.push(at(why)),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// Byte offsets of the top-level elements of a JSON array, to point at rows.
fn element_offsets(text: &str) -> Vec<usize> {
    let mut offsets = Vec::new();
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let mut expect_element = false;
    for (i, c) in text.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if expect_element && depth == 1 && !c.is_whitespace() && c != ']' {
            offsets.push(i);
            expect_element = false;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => {
                depth += 1;
                if depth == 1 {
                    expect_element = true;
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 1 => expect_element = true,
            _ => {}
        }
    }
    offsets
}

/// Fill defaults, check every value, and give the row its identity: its key
/// when present, else its whole content (for generated keys).
fn complete_row(table: &Table, mut row: Row) -> Result<SeedRow, String> {
    // A keyless row is identified by its content as written in the file, not
    // after defaults: changing a default or adding a column must not make
    // old seed rows look new.
    let as_written = serde_json::to_string(&row).expect("JSON values serialize");
    let mut full = Row::new();
    let time = std::cell::OnceCell::new();
    for (name, column) in &table.columns {
        let value = match row.shift_remove(name) {
            Some(v) => normalize(column, v),
            None if column.generated => continue,
            None => match absent_value(column, &time) {
                Some(d) => d,
                None if column.nullable => Json::Null,
                None => return Err(format!("column `{name}` has no value and no default")),
            },
        };
        check_value(column, &value).map_err(|why| format!("column `{name}`: {why}"))?;
        full.insert(name.clone(), value);
    }
    let identity = match full.get(&table.key) {
        Some(key) => digest(&format!("key:{key}")),
        None => digest(&format!("row:{as_written}")),
    };
    Ok(SeedRow {
        identity,
        row: full,
    })
}

/// A fixed-length identity (SHA-256, hex), whatever the size of the row.
fn digest(identity: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(identity.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::element_offsets;

    #[test]
    fn finds_array_elements() {
        let text = "[\n {\"a\": \"x,]\"},\n {\"b\": [1,2]}\n]";
        let offs = element_offsets(text);
        assert_eq!(offs.len(), 2);
        assert_eq!(&text[offs[0]..offs[0] + 1], "{");
        assert_eq!(&text[offs[1]..offs[1] + 5], "{\"b\":");
    }
}
