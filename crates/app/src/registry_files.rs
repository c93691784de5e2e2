//! Registry files: TOML and JSON (the serde form of `fenhe_core::Registry`) and CSV (one file per
//! list, the way a bureau keeps them in spreadsheets). Loading validates everything and reports
//! every problem with file, line and field; a file with errors yields no registry at all.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use fenhe_core::registry::{
    Contact, CrcPolicy, Device, Enterprise, Limit, Outlet, OutletKind, Ownership, Problem, Protocol,
    Registry, Section,
};

/// One problem in a registry file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// `enterprises[3].uscc`, a CSV column, or empty for file-level problems.
    pub field: String,
    pub message: String,
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found; a registry is only produced when there are none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problems(pub Vec<FileProblem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            writeln!(f, "{p}")?;
        }
        write!(f, "{} problem(s); nothing was imported", self.0.len())
    }
}

impl std::error::Error for Problems {}

/// The formats a registry file can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Toml,
    Json,
    Csv,
}

impl Format {
    pub fn from_path(p: &Path) -> Option<Format> {
        match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "toml" => Some(Format::Toml),
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// A registry file's content as received (an upload from the browser, or a file read from disk):
/// its name, whose extension says its format, and its bytes or why they could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedFile {
    pub name: String,
    pub content: Result<Vec<u8>, String>,
}

/// Load and validate one or more files (CSV lists merge into one registry; TOML/JSON files are
/// whole registries and merge the same way).
pub fn load_files(paths: &[&Path]) -> Result<Registry, Problems> {
    let files: Vec<NamedFile> = paths
        .iter()
        .map(|p| NamedFile {
            name: p.display().to_string(),
            content: std::fs::read(p).map_err(|e| e.to_string()),
        })
        .collect();
    load_named(&files)
}

/// [`load_files`] over contents already in memory (the browser's uploads): the same checks and
/// the same report, each problem naming its file by `name`.
pub fn load_named(files: &[NamedFile]) -> Result<Registry, Problems> {
    let mut all = Registry::default();
    let mut problems = Vec::new();
    // Where each entry came from, to place validation problems.
    let mut origin: BTreeMap<(Section, usize), (String, Option<usize>, String)> = BTreeMap::new();
    if files.is_empty() {
        problems.push(FileProblem {
            file: String::new(),
            line: None,
            field: String::new(),
            message: "no file was given".into(),
        });
    }
    for file in files {
        let name = file.name.clone();
        let text = match &file.content {
            Ok(b) => match std::str::from_utf8(b) {
                Ok(s) => s.to_string(),
                Err(e) => {
                    problems.push(FileProblem {
                        file: name,
                        line: None,
                        field: String::new(),
                        message: format!("not UTF-8 text (byte {})", e.valid_up_to()),
                    });
                    continue;
                }
            },
            Err(e) => {
                problems.push(FileProblem {
                    file: name,
                    line: None,
                    field: String::new(),
                    message: e.clone(),
                });
                continue;
            }
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text).to_string();
        let Some(format) = Format::from_path(Path::new(&file.name)) else {
            problems.push(FileProblem {
                file: name,
                line: None,
                field: String::new(),
                message: "unknown extension (expected .toml, .json or .csv)".into(),
            });
            continue;
        };
        let parsed = match format {
            Format::Toml => parse_toml(&name, &text),
            Format::Json => parse_json(&name, &text),
            Format::Csv => parse_csv(&name, &text),
        };
        match parsed {
            Ok((r, lines)) => {
                for (section, list_len) in [
                    (Section::Enterprises, r.enterprises.len()),
                    (Section::Outlets, r.outlets.len()),
                    (Section::Devices, r.devices.len()),
                ] {
                    let base = match section {
                        Section::Enterprises => all.enterprises.len(),
                        Section::Outlets => all.outlets.len(),
                        Section::Devices => all.devices.len(),
                    };
                    for i in 0..list_len {
                        let line = lines.get(&(section, i)).copied();
                        origin
                            .insert((section, base + i), (name.clone(), line, text_for_fields(&text, line)));
                    }
                }
                all.enterprises.extend(r.enterprises);
                all.outlets.extend(r.outlets);
                all.devices.extend(r.devices);
            }
            Err(mut p) => problems.append(&mut p),
        }
    }
    if problems.is_empty() {
        for p in all.validate() {
            problems.push(place(&p, &origin));
        }
    }
    if problems.is_empty() { Ok(all) } else { Err(Problems(problems)) }
}

/// The text of an entry from its first line on (used to find the line of a field in it).
fn text_for_fields(text: &str, line: Option<usize>) -> String {
    match line {
        Some(l) => text.lines().skip(l - 1).take(200).collect::<Vec<_>>().join("\n"),
        None => String::new(),
    }
}

fn place(p: &Problem, origin: &BTreeMap<(Section, usize), (String, Option<usize>, String)>) -> FileProblem {
    let field = format!("{}[{}].{}", p.section.name(), p.index, p.field);
    match origin.get(&(p.section, p.index)) {
        Some((file, line, entry_text)) => {
            // Point at the field's own line where the entry spans several lines (TOML/JSON).
            let key = p.field.split('[').next().unwrap_or(&p.field);
            let field_line = line.and_then(|l| {
                entry_text
                    .lines()
                    .enumerate()
                    .skip(1)
                    .take_while(|(_, s)| !s.trim_start().starts_with("[["))
                    .find(|(_, s)| {
                        let t = s.trim_start().trim_start_matches('"');
                        t.starts_with(key)
                            && t[key.len()..].trim_start_matches('"').trim_start().starts_with(['=', ':'])
                    })
                    .map(|(i, _)| l + i)
            });
            FileProblem { file: file.clone(), line: field_line.or(*line), field, message: p.message.clone() }
        }
        None => FileProblem { file: "?".into(), line: None, field, message: p.message.clone() },
    }
}

type Lines = BTreeMap<(Section, usize), usize>;

fn parse_toml(name: &str, text: &str) -> Result<(Registry, Lines), Vec<FileProblem>> {
    let r: Registry = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        vec![FileProblem { file: name.into(), line, field: String::new(), message: e.message().to_string() }]
    })?;
    // `[[enterprises]]`-style headers start each entry; inline arrays get no line.
    let mut lines = Lines::new();
    let mut counts: BTreeMap<Section, usize> = BTreeMap::new();
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        let section = match t {
            "[[enterprises]]" => Section::Enterprises,
            "[[outlets]]" => Section::Outlets,
            "[[devices]]" => Section::Devices,
            _ => continue,
        };
        let c = counts.entry(section).or_default();
        lines.insert((section, *c), i + 1);
        *c += 1;
    }
    Ok((r, lines))
}

fn parse_json(name: &str, text: &str) -> Result<(Registry, Lines), Vec<FileProblem>> {
    let r: Registry = serde_json::from_str(text).map_err(|e| {
        vec![FileProblem {
            file: name.into(),
            line: Some(e.line()),
            field: String::new(),
            message: format!("{e}"),
        }]
    })?;
    Ok((r, json_entry_lines(text)))
}

/// Lines where the objects of the top-level arrays `enterprises`, `outlets` and `devices` begin.
fn json_entry_lines(text: &str) -> Lines {
    let mut lines = Lines::new();
    let b = text.as_bytes();
    let mut depth = 0i32;
    let mut line = 1usize;
    let mut i = 0;
    let mut last_key: Option<String> = None;
    let mut current: Option<(Section, i32, usize)> = None; // section, array depth, count
    while i < b.len() {
        match b[i] {
            b'\n' => line += 1,
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if depth == 1 {
                    last_key = text.get(start..i).map(str::to_string);
                }
            }
            b'[' => {
                depth += 1;
                if depth == 2 {
                    let section = match last_key.as_deref() {
                        Some("enterprises") => Some(Section::Enterprises),
                        Some("outlets") => Some(Section::Outlets),
                        Some("devices") => Some(Section::Devices),
                        _ => None,
                    };
                    current = section.map(|s| (s, depth, 0));
                }
            }
            b'{' => {
                depth += 1;
                if let Some((s, d, n)) = current.as_mut()
                    && depth == *d + 1
                {
                    lines.insert((*s, *n), line);
                    *n += 1;
                }
            }
            b']' | b'}' => {
                if let Some((_, d, _)) = current
                    && b[i] == b']'
                    && depth == d
                {
                    current = None;
                }
                depth -= 1;
            }
            _ => {}
        }
        i += 1;
    }
    lines
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

/// CSV: the header decides which list the file holds.
fn parse_csv(name: &str, text: &str) -> Result<(Registry, Lines), Vec<FileProblem>> {
    let mut rdr = csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| {
            vec![FileProblem {
                file: name.into(),
                line: Some(1),
                field: String::new(),
                message: e.to_string(),
            }]
        })?
        .clone();
    let has = |c: &str| headers.iter().any(|h| h == c);
    let section = if has("uscc") {
        Section::Enterprises
    } else if has("source_type") || has("kind") {
        Section::Outlets
    } else if has("mn") {
        Section::Devices
    } else {
        return Err(vec![FileProblem {
            file: name.into(),
            line: Some(1),
            field: String::new(),
            message: "header has none of uscc (enterprises), source_type (outlets), mn (devices)".into(),
        }]);
    };
    let mut r = Registry::default();
    let mut lines = Lines::new();
    let mut problems = Vec::new();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize);
                problems.push(FileProblem {
                    file: name.into(),
                    line,
                    field: String::new(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        let row = Row { headers: &headers, rec: &rec, file: name, line, problems: &mut problems };
        match section {
            Section::Enterprises => {
                if let Some(e) = enterprise_row(row) {
                    lines.insert((section, r.enterprises.len()), line);
                    r.enterprises.push(e);
                }
            }
            Section::Outlets => {
                if let Some(o) = outlet_row(row) {
                    lines.insert((section, r.outlets.len()), line);
                    r.outlets.push(o);
                }
            }
            Section::Devices => {
                if let Some(d) = device_row(row) {
                    lines.insert((section, r.devices.len()), line);
                    r.devices.push(d);
                }
            }
        }
    }
    if problems.is_empty() { Ok((r, lines)) } else { Err(problems) }
}

struct Row<'a> {
    headers: &'a csv::StringRecord,
    rec: &'a csv::StringRecord,
    file: &'a str,
    line: usize,
    problems: &'a mut Vec<FileProblem>,
}

impl Row<'_> {
    fn get(&self, col: &str) -> &str {
        self.headers.iter().position(|h| h == col).and_then(|i| self.rec.get(i)).unwrap_or("")
    }
    fn bad(&mut self, col: &str, message: String) {
        self.problems.push(FileProblem {
            file: self.file.into(),
            line: Some(self.line),
            field: col.into(),
            message,
        });
    }
    fn required(&mut self, col: &str) -> String {
        let v = self.get(col).to_string();
        if v.is_empty() {
            self.bad(col, "is required".into());
        }
        v
    }
    fn opt_f64(&mut self, col: &str) -> Option<f64> {
        let v = self.get(col).to_string();
        if v.is_empty() {
            return None;
        }
        match v.parse::<f64>() {
            Ok(x) => Some(x),
            Err(_) => {
                self.bad(col, format!("{v:?} is not a number"));
                None
            }
        }
    }
    fn u32_or(&mut self, col: &str, default: u32) -> u32 {
        let v = self.get(col).to_string();
        if v.is_empty() {
            return default;
        }
        v.parse().unwrap_or_else(|_| {
            self.bad(col, format!("{v:?} is not a whole number"));
            default
        })
    }
}

/// Split a multi-value cell on `;` (or `；`), trimming and dropping empties.
pub(crate) fn items(cell: &str) -> impl Iterator<Item = &str> {
    cell.split([';', '；']).map(str::trim).filter(|s| !s.is_empty())
}

fn enterprise_row(mut r: Row<'_>) -> Option<Enterprise> {
    let before = r.problems.len();
    let ownership_s = r.required("ownership");
    let ownership = Ownership::parse(&ownership_s);
    if ownership.is_none() && !ownership_s.is_empty() {
        r.bad(
            "ownership",
            format!("{ownership_s:?} is not one of central_soe, provincial_soe, local_soe, private, foreign"),
        );
    }
    let mut contacts = Vec::new();
    for c in items(r.get("contacts")).map(str::to_string).collect::<Vec<_>>() {
        let mut parts = c.split('/').map(str::trim);
        let name = parts.next().unwrap_or("").to_string();
        if name.is_empty() {
            r.bad("contacts", format!("{c:?} has no name (expected name/role/phone)"));
        }
        contacts.push(Contact {
            name,
            role: parts.next().unwrap_or("").into(),
            phone: parts.next().unwrap_or("").into(),
        });
    }
    let mut permitted = BTreeMap::new();
    for p in items(r.get("permitted_kg_per_year")).map(str::to_string).collect::<Vec<_>>() {
        match p.split_once('=').map(|(k, v)| (k.trim(), v.trim().parse::<f64>())) {
            Some((k, Ok(v))) => {
                permitted.insert(k.to_string(), v);
            }
            _ => r.bad("permitted_kg_per_year", format!("{p:?} is not FACTOR=KG")),
        }
    }
    let e = Enterprise {
        id: r.required("id"),
        name: r.required("name"),
        uscc: r.required("uscc"),
        ownership: ownership.unwrap_or(Ownership::Private),
        industry: r.required("industry"),
        category: Some(r.get("category").to_string()).filter(|s| !s.is_empty()),
        address: r.get("address").into(),
        longitude: r.opt_f64("longitude"),
        latitude: r.opt_f64("latitude"),
        contacts,
        permitted_kg_per_year: permitted,
    };
    (r.problems.len() == before).then_some(e)
}

/// Limits cell: `FACTOR:MIN~MAX@YYYY-MM-DD; …` (either bound may be empty).
fn parse_limit(s: &str) -> Result<Limit, String> {
    let err = || format!("{s:?} is not FACTOR:MIN~MAX@YYYY-MM-DD (e.g. a21026:~35@2019-01-01)");
    let (factor, rest) = s.split_once(':').ok_or_else(err)?;
    let (range, date) = rest.split_once('@').ok_or_else(err)?;
    let (lo, hi) = range.split_once('~').ok_or_else(err)?;
    let num = |v: &str| -> Result<Option<f64>, String> {
        let v = v.trim();
        if v.is_empty() { Ok(None) } else { v.parse().map(Some).map_err(|_| err()) }
    };
    Ok(Limit {
        factor: factor.trim().into(),
        min: num(lo)?,
        max: num(hi)?,
        effective_from: fenhe_core::registry::parse_effective_date(date)
            .map_err(|e| format!("{s:?}: {e}"))?,
    })
}

fn format_limit(l: &Limit) -> String {
    let f = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    format!("{}:{}~{}@{}", l.factor, f(l.min), f(l.max), l.effective_from)
}

fn outlet_row(mut r: Row<'_>) -> Option<Outlet> {
    let before = r.problems.len();
    let kind_s = r.required("kind");
    let kind = OutletKind::parse(&kind_s);
    if kind.is_none() && !kind_s.is_empty() {
        r.bad("kind", format!("{kind_s:?} is not flue_gas or wastewater"));
    }
    let mut limits = Vec::new();
    for l in items(r.get("limits")).map(str::to_string).collect::<Vec<_>>() {
        match parse_limit(&l) {
            Ok(l) => limits.push(l),
            Err(m) => r.bad("limits", m),
        }
    }
    let o = Outlet {
        id: r.required("id"),
        enterprise: r.required("enterprise"),
        name: r.required("name"),
        kind: kind.unwrap_or(OutletKind::FlueGas),
        source_type: r.get("source_type").into(),
        reference_o2: r.opt_f64("reference_o2"),
        standard: r.get("standard").into(),
        limits,
    };
    (r.problems.len() == before).then_some(o)
}

fn device_row(mut r: Row<'_>) -> Option<Device> {
    let before = r.problems.len();
    let protocol_s = r.get("protocol").to_string();
    let protocol =
        if protocol_s.is_empty() { Some(Protocol::default()) } else { Protocol::parse(&protocol_s) };
    if protocol.is_none() {
        r.bad("protocol", format!("{protocol_s:?} is not 2005, 2017 or 2025"));
    }
    let crc_s = r.get("crc").to_string();
    let crc = if crc_s.is_empty() { Some(CrcPolicy::default()) } else { CrcPolicy::parse(&crc_s) };
    if crc.is_none() {
        r.bad("crc", format!("{crc_s:?} is not standard, modbus, modbus-swapped or any"));
    }
    let hourly_s = r.get("hourly").to_ascii_lowercase();
    let hourly = match hourly_s.as_str() {
        "" | "true" | "yes" | "1" | "是" => true,
        "false" | "no" | "0" | "否" => false,
        other => {
            let other = other.to_string();
            r.bad("hourly", format!("{other:?} is not true or false"));
            true
        }
    };
    let d = Device {
        mn: r.required("mn"),
        password: r.required("password"),
        outlet: r.required("outlet"),
        protocol: protocol.unwrap_or_default(),
        crc: crc.unwrap_or_default(),
        max_segment_len: r.u32_or("max_segment_len", 1024),
        rtd_interval_s: r.u32_or("rtd_interval_s", 30),
        minute_interval_min: r.u32_or("minute_interval_min", 1),
        hourly,
        factors: r
            .get("factors")
            .split([' ', ';', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    };
    (r.problems.len() == before).then_some(d)
}

/// Write a registry as TOML.
pub fn to_toml(r: &Registry) -> Result<String, toml::ser::Error> {
    toml::to_string(r)
}

/// Write a registry as pretty JSON.
pub fn to_json(r: &Registry) -> serde_json::Result<String> {
    serde_json::to_string_pretty(r)
}

/// Write the three CSV lists (enterprises, outlets, devices), UTF-8 with BOM for spreadsheets.
pub fn to_csv(r: &Registry) -> Result<[(String, String); 3], csv::Error> {
    /// A list in memory, its header row written.
    fn start(header: &[&str]) -> Result<csv::Writer<Vec<u8>>, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(header)?;
        Ok(w)
    }
    fn finish(w: csv::Writer<Vec<u8>>) -> Result<String, csv::Error> {
        let bytes = w.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
        Ok(format!("\u{feff}{}", String::from_utf8_lossy(&bytes)))
    }
    let mut w = start(&[
        "id",
        "name",
        "uscc",
        "ownership",
        "industry",
        "category",
        "address",
        "longitude",
        "latitude",
        "contacts",
        "permitted_kg_per_year",
    ])?;
    for e in &r.enterprises {
        let contacts: Vec<String> =
            e.contacts.iter().map(|c| format!("{}/{}/{}", c.name, c.role, c.phone)).collect();
        let permitted: Vec<String> =
            e.permitted_kg_per_year.iter().map(|(k, v)| format!("{k}={v}")).collect();
        w.write_record([
            e.id.as_str(),
            &e.name,
            &e.uscc,
            e.ownership.name(),
            &e.industry,
            e.category.as_deref().unwrap_or(""),
            &e.address,
            &e.longitude.map(|v| v.to_string()).unwrap_or_default(),
            &e.latitude.map(|v| v.to_string()).unwrap_or_default(),
            &contacts.join("; "),
            &permitted.join("; "),
        ])?;
    }
    let enterprises = finish(w)?;
    let mut w =
        start(&["id", "enterprise", "name", "kind", "source_type", "reference_o2", "standard", "limits"])?;
    for o in &r.outlets {
        let limits: Vec<String> = o.limits.iter().map(format_limit).collect();
        w.write_record([
            o.id.as_str(),
            &o.enterprise,
            &o.name,
            o.kind.name(),
            &o.source_type,
            &o.reference_o2.map(|v| v.to_string()).unwrap_or_default(),
            &o.standard,
            &limits.join("; "),
        ])?;
    }
    let outlets = finish(w)?;
    let mut w = start(&[
        "mn",
        "password",
        "outlet",
        "protocol",
        "crc",
        "max_segment_len",
        "rtd_interval_s",
        "minute_interval_min",
        "hourly",
        "factors",
    ])?;
    for d in &r.devices {
        w.write_record([
            d.mn.as_str(),
            &d.password,
            &d.outlet,
            d.protocol.name(),
            d.crc.name(),
            &d.max_segment_len.to_string(),
            &d.rtd_interval_s.to_string(),
            &d.minute_interval_min.to_string(),
            &d.hourly.to_string(),
            &d.factors.join(" "),
        ])?;
    }
    let devices = finish(w)?;
    Ok([
        ("enterprises.csv".into(), enterprises),
        ("outlets.csv".into(), outlets),
        ("devices.csv".into(), devices),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn round_trips_in_every_format() {
        let r = fenhe_core::demo::city();
        let dir = tempfile::tempdir().unwrap();
        let t = write(dir.path(), "r.toml", &to_toml(&r).unwrap());
        assert_eq!(load_files(&[&t]).unwrap(), r);
        let j = write(dir.path(), "r.json", &to_json(&r).unwrap());
        assert_eq!(load_files(&[&j]).unwrap(), r);
        let files = to_csv(&r).unwrap();
        let paths: Vec<_> = files.iter().map(|(n, t)| write(dir.path(), n, t)).collect();
        let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
        assert_eq!(load_files(&refs).unwrap(), r);
    }

    #[test]
    fn csv_errors_name_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "devices.csv",
            "mn,password,outlet,protocol,minute_interval_min\nM1,123456,O1,2017,1\nM2,123456,O1,2018,x\n",
        );
        let e = load_files(&[&p]).unwrap_err();
        let s: Vec<String> = e.0.iter().map(|p| p.to_string()).collect();
        assert!(
            s.iter().any(|l| l.ends_with("devices.csv:3: protocol: \"2018\" is not 2005, 2017 or 2025")),
            "{s:?}"
        );
        assert!(s.iter().any(|l| l.contains("devices.csv:3: minute_interval_min")), "{s:?}");
    }

    #[test]
    fn semantic_errors_point_at_the_entry_line() {
        let mut r = fenhe_core::demo::city();
        r.enterprises[1].uscc = "91141000MA0H000020".into();
        r.devices[2].outlet = "missing".into();
        let dir = tempfile::tempdir().unwrap();
        let toml_text = to_toml(&r).unwrap();
        let t = write(dir.path(), "r.toml", &toml_text);
        let e = load_files(&[&t]).unwrap_err();
        let uscc = e.0.iter().find(|p| p.field == "enterprises[1].uscc").unwrap();
        let line = uscc.line.unwrap();
        assert!(toml_text.lines().nth(line - 1).unwrap().starts_with("uscc"), "line {line}");
        let dev = e.0.iter().find(|p| p.field == "devices[2].outlet").unwrap();
        assert!(toml_text.lines().nth(dev.line.unwrap() - 1).unwrap().starts_with("outlet"));

        let json_text = to_json(&r).unwrap();
        let j = write(dir.path(), "r.json", &json_text);
        let e = load_files(&[&j]).unwrap_err();
        let uscc = e.0.iter().find(|p| p.field == "enterprises[1].uscc").unwrap();
        assert!(json_text.lines().nth(uscc.line.unwrap() - 1).unwrap().trim_start().starts_with("\"uscc\""));
    }

    #[test]
    fn syntax_errors_have_lines() {
        let dir = tempfile::tempdir().unwrap();
        let t = write(dir.path(), "bad.toml", "[[enterprises]]\nid = \"E1\"\nname = \n");
        let e = load_files(&[&t]).unwrap_err();
        assert_eq!(e.0[0].line, Some(3), "{e}");
        let j = write(dir.path(), "bad.json", "{\n  \"devices\": [\n    {\"mn\": 1}\n  ]\n}\n");
        let e = load_files(&[&j]).unwrap_err();
        assert_eq!(e.0[0].line, Some(3), "{e}");
    }

    #[test]
    fn limits_cell_grammar() {
        let l = parse_limit("w01001:6~9@2010-01-01").unwrap();
        assert_eq!((l.min, l.max), (Some(6.0), Some(9.0)));
        let l = parse_limit("a21026:~35@2019-01-01").unwrap();
        assert_eq!((l.min, l.max), (None, Some(35.0)));
        assert!(parse_limit("a21026<=35").is_err());
        // A limit from a time of day is refused, not cut to its date.
        let e = parse_limit("a21026:~30@2024-07-01T08:00").unwrap_err();
        assert!(e.contains("has a time of day"), "{e}");
        assert_eq!(format_limit(&l), "a21026:~35@2019-01-01");
    }
}
