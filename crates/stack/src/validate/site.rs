//! `[site]`: a folder of static files served at a path no route uses.

use std::path::Path;

use super::{display_dir, Validator};
use crate::model::{Route, Site};
use crate::raw::{RawSite, S};

impl Validator<'_> {
    pub(super) fn site(&mut self, raw: &S<RawSite>, dir: &Path, routes: &[Route]) -> Option<Site> {
        let r = raw.get_ref();
        let errors_before = self.errors.len();
        let folder = Path::new(r.dir.get_ref());
        self.site_folder(&r.dir, dir);
        let path = self.site_path(r.path.as_ref());
        let span = r.path.as_ref().map_or(raw.span(), |p| p.span());
        if path != "/" {
            let under = |p: &str| p == path || p.starts_with(&format!("{path}/"));
            if let Some(route) = routes.iter().find(|route| under(&route.path)) {
                self.error(
                    span.clone(),
                    format!("the site path `{path}` holds the route {}", route.label()),
                )
                .hint = Some("serve the site at a path no route uses".into());
            }
        }
        // The API's description too: on AWS the site and the API share
        // one origin, and the site would hide it.
        if super::RESERVED
            .iter()
            .any(|r| path == *r || path.starts_with(&format!("{r}/")))
        {
            self.error(span, format!("the site path `{path}` is reserved"));
        }
        (self.errors.len() == errors_before).then(|| Site {
            dir: folder.to_path_buf(),
            path,
            spa: r.spa.as_ref().is_some_and(|s| *s.get_ref()),
        })
    }

    /// The site's folder: inside the stack folder, with an index.html
    /// (looked for only where the site's files are).
    fn site_folder(&mut self, written: &S<String>, dir: &Path) {
        let folder = Path::new(written.get_ref());
        if super::outside_stack(folder) {
            self.error(
                written.span(),
                "the site folder must be inside the stack folder",
            );
        } else if !self.site_files {
            // Deployed: the folder stayed behind; the site is in its bucket.
        } else if !dir.join(folder).is_dir() {
            self.error(
                written.span(),
                format!("site folder `{}` not found", folder.display()),
            )
            .hint = Some(format!("the path is relative to {}", display_dir(dir)));
        } else if !dir.join(folder).join("index.html").is_file() {
            self.error(
                written.span(),
                format!("site folder `{}` has no index.html", folder.display()),
            );
        }
    }

    /// The URL path the site is served at, without a trailing `/`.
    fn site_path(&mut self, written: Option<&S<String>>) -> String {
        let Some(p) = written else {
            return "/".to_string();
        };
        let text = p.get_ref();
        let valid = text.starts_with('/')
            && text.len() <= 100
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'))
            && !text.contains("//")
            && !text.split('/').any(|seg| seg == "." || seg == "..");
        if !valid {
            self.error(p.span(), format!("invalid site path `{text}`"))
                .hint =
                Some("a URL path such as \"/\" or \"/app\": letters, digits, `-`, `_`, `.`".into());
        }
        let trimmed = text.trim_end_matches('/');
        if trimmed.is_empty() {
            "/".to_string()
        } else {
            trimmed.to_string()
        }
    }
}
