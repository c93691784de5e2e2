//! The browser's files, embedded in the binary: our stylesheet and script, the vendored ECharts
//! and htmx, and their licences. Each is served under a path holding a hash of its content
//! (`/static/3f2a…/echarts.min.js`), so a browser may keep it for a year and a new build's file
//! has a new address. Gzip is done once, on first use, not per request: ECharts is 1.1 MB and
//! about a third of that compressed.

use std::io::Write as _;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// An embedded file.
#[derive(Debug)]
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    /// The first 16 hex digits of the SHA-256 of `bytes`.
    pub hash: String,
    /// `bytes` gzipped, when that makes them smaller.
    pub gzip: Option<Vec<u8>>,
}

/// A vendored component and its licence texts, for the licences page.
#[derive(Debug)]
pub struct License {
    pub component: &'static str,
    pub version: &'static str,
    pub spdx: &'static str,
    pub files: &'static [&'static str],
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

macro_rules! embedded {
    ($name:literal, $path:literal, $ct:expr) => {
        ($name, $ct, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/static/", $path)) as &[u8])
    };
}

/// Every served file: name under `/static/{hash}/`, content type, content.
const FILES: &[(&str, &str, &[u8])] = &[
    embedded!("app.css", "app.css", CSS),
    embedded!("app.js", "app.js", JS),
    embedded!("outlet-chart.js", "outlet-chart.js", JS),
    embedded!("alarm-chart.js", "alarm-chart.js", JS),
    embedded!("overview.js", "overview.js", JS),
    embedded!("screen.js", "screen.js", JS),
    embedded!("linfen-schematic.js", "linfen-schematic.js", JS),
    embedded!("overview-live.js", "overview-live.js", JS),
    embedded!("echarts.min.js", "vendor/echarts/echarts.min.js", JS),
    embedded!("htmx.min.js", "vendor/htmx/htmx.min.js", JS),
    embedded!("hx-sse.min.js", "vendor/htmx/hx-sse.min.js", JS),
    embedded!("echarts-LICENSE.txt", "vendor/LICENSES/echarts-LICENSE.txt", TEXT),
    embedded!("echarts-NOTICE.txt", "vendor/LICENSES/echarts-NOTICE.txt", TEXT),
    embedded!("echarts-d3-LICENSE.txt", "vendor/LICENSES/echarts-d3-LICENSE.txt", TEXT),
    embedded!("zrender-LICENSE.txt", "vendor/LICENSES/zrender-LICENSE.txt", TEXT),
    embedded!("tslib-LICENSE.txt", "vendor/LICENSES/tslib-LICENSE.txt", TEXT),
    embedded!("htmx-LICENSE.txt", "vendor/LICENSES/htmx-LICENSE.txt", TEXT),
];

/// What the licences page lists (versions as in `static/vendor/README.md`).
pub const LICENSES: &[License] = &[
    License {
        component: "Apache ECharts",
        version: "6.1.0",
        spdx: "Apache-2.0",
        files: &["echarts-LICENSE.txt", "echarts-NOTICE.txt", "echarts-d3-LICENSE.txt"],
    },
    License { component: "ZRender", version: "6.1.0", spdx: "BSD-3-Clause", files: &["zrender-LICENSE.txt"] },
    License { component: "tslib", version: "2.3.0", spdx: "0BSD", files: &["tslib-LICENSE.txt"] },
    License { component: "htmx", version: "4.0.1", spdx: "0BSD", files: &["htmx-LICENSE.txt"] },
];

/// The embedded files, hashed and compressed on first use.
pub fn all() -> &'static [Asset] {
    static ASSETS: OnceLock<Vec<Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        FILES.iter().map(|&(name, content_type, bytes)| prepare(name, content_type, bytes)).collect()
    })
}

/// Hash and compress now (at start-up, on a blocking thread) rather than in the first request.
pub fn warm() {
    let _ = all();
}

/// The file `name`, if embedded.
pub fn find(name: &str) -> Option<&'static Asset> {
    all().iter().find(|a| a.name == name)
}

/// The address of `name` for a page: `/static/{hash}/{name}`. A name that is not embedded is a
/// bug of a template; it gets an address that answers 404 rather than a panic.
pub fn url(name: &str) -> String {
    match find(name) {
        Some(a) => format!("/static/{}/{}", a.hash, a.name),
        None => format!("/static/missing/{name}"),
    }
}

fn prepare(name: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Asset {
    let digest = Sha256::digest(bytes);
    let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Asset { name, content_type, bytes, hash, gzip: gzip(bytes).filter(|g| g.len() < bytes.len()) }
}

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).ok()?;
    enc.finish().ok()
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    #[test]
    fn every_file_is_hashed_and_text_is_compressed_losslessly() {
        for a in all() {
            assert_eq!(a.hash.len(), 16, "{}", a.name);
            let g = a.gzip.as_ref().unwrap_or_else(|| panic!("{} is not compressed", a.name));
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(g.as_slice()).read_to_end(&mut out).unwrap();
            assert_eq!(out, a.bytes, "{}", a.name);
        }
        let echarts = find("echarts.min.js").unwrap();
        assert!(echarts.gzip.as_ref().unwrap().len() < echarts.bytes.len() / 2);
    }

    #[test]
    fn urls_carry_the_content_hash() {
        let a = find("app.css").unwrap();
        assert_eq!(url("app.css"), format!("/static/{}/app.css", a.hash));
        assert_eq!(url("nope.js"), "/static/missing/nope.js");
    }

    #[test]
    fn every_licence_file_is_embedded() {
        for l in LICENSES {
            for f in l.files {
                assert!(find(f).is_some(), "{f}");
            }
        }
    }
}
