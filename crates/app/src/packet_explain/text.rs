//! A frame as `fenhe packet explain` prints it for people, in Chinese or English: a title line,
//! a table of header fields, factors, plain keys, deviations and the reply.

use std::fmt::Write as _;

use hj212::codes::{self, Lang};
use hj212::crc::{CrcCheck, CrcVariant, hex4};
use hj212::{CrcMode, Field, Version};

use super::report::{FactorReport, FieldReport, PacketReport, Report, kind_zh};
use crate::text_table::Table;

/// The closing line of an explanation: frames seen, accepted and rejected.
pub fn summary_line(frames: u64, rejected: u64, lang: Lang) -> String {
    (labels(lang).summary)(frames, frames.saturating_sub(rejected), rejected)
}

/// The words of the report, per language.
struct Labels {
    frame: &'static str,
    bytes: fn(u64, u64) -> String,
    accepted: &'static str,
    refused: &'static str,
    version: &'static str,
    data_time: &'static str,
    crc: &'static str,
    error: &'static str,
    offset: &'static str,
    field: &'static str,
    factor: &'static str,
    name: &'static str,
    value: &'static str,
    unit: &'static str,
    key: &'static str,
    meaning: &'static str,
    deviations: &'static str,
    none: &'static str,
    reply: &'static str,
    reply_none: &'static str,
    reply_untrusted: &'static str,
    unknown_factor: &'static str,
    ack: &'static str,
    no_ack: &'static str,
    split: &'static str,
    crc_ok: fn(&str) -> String,
    crc_refused_variant: fn(&str, &str) -> String,
    crc_mismatch: &'static str,
    variant: fn(CrcVariant) -> &'static str,
    declared: &'static str,
    computed: &'static str,
    byte_at: fn(u64) -> String,
    summary: fn(u64, u64, u64) -> String,
}

fn labels(lang: Lang) -> &'static Labels {
    static ZH: Labels = Labels {
        frame: "帧",
        bytes: |start, len| format!("字节 {start}–{}（{len} 字节）", start + len),
        accepted: "✔ 通过",
        refused: "✘ 拒绝",
        version: "版本",
        data_time: "数据时间",
        crc: "CRC",
        error: "错误",
        offset: "位置",
        field: "字段",
        factor: "因子",
        name: "名称",
        value: "值",
        unit: "单位/说明",
        key: "键",
        meaning: "说明",
        deviations: "偏离标准",
        none: "无",
        reply: "平台应答",
        reply_none: "无（此报文无需应答）",
        reply_untrusted: "无（报文未通过校验，平台不应按其内容应答）",
        unknown_factor: "（未知因子）",
        ack: "需要应答",
        no_ack: "无需应答",
        split: "分包",
        crc_ok: |v| format!("通过（{v}算法）"),
        crc_refused_variant: |v, mode| format!("不通过：与{v}算法相符，但 --crc {mode} 不接受"),
        crc_mismatch: "不通过：声明值与计算值不符",
        variant: |v| match v {
            CrcVariant::Standard => "标准",
            CrcVariant::Modbus => "MODBUS",
            CrcVariant::ModbusSwapped => "字节交换的 MODBUS",
        },
        declared: "声明",
        computed: "计算",
        byte_at: |o| format!("第 {o} 字节"),
        summary: |n, ok, bad| format!("共 {n} 帧：{ok} 帧通过，{bad} 帧拒绝"),
    };
    static EN: Labels = Labels {
        frame: "Frame",
        bytes: |start, len| format!("bytes {start}–{} ({len} bytes)", start + len),
        accepted: "✔ accepted",
        refused: "✘ rejected",
        version: "Version",
        data_time: "DataTime",
        crc: "CRC",
        error: "Error",
        offset: "Offset",
        field: "Field",
        factor: "Factor",
        name: "Name",
        value: "Value",
        unit: "Unit / meaning",
        key: "Key",
        meaning: "Meaning",
        deviations: "Deviations",
        none: "none",
        reply: "Platform reply",
        reply_none: "none (this packet needs no reply)",
        reply_untrusted: "none (the packet failed its checks; do not reply to its content)",
        unknown_factor: "(unknown factor)",
        ack: "reply wanted",
        no_ack: "no reply wanted",
        split: "split",
        crc_ok: |v| format!("ok ({v} algorithm)"),
        crc_refused_variant: |v, mode| {
            format!("refused: matches the {v} algorithm, which --crc {mode} does not accept")
        },
        crc_mismatch: "refused: declared and computed CRC differ",
        variant: |v| match v {
            CrcVariant::Standard => "standard",
            CrcVariant::Modbus => "MODBUS",
            CrcVariant::ModbusSwapped => "byte-swapped MODBUS",
        },
        declared: "declared",
        computed: "computed",
        byte_at: |o| format!("byte {o}"),
        summary: |n, ok, bad| format!("{n} frames: {ok} accepted, {bad} rejected"),
    };
    match lang {
        Lang::Zh => &ZH,
        Lang::En => &EN,
    }
}

fn version_title(v: Version) -> &'static str {
    match v {
        Version::V2005 => "HJ/T 212-2005",
        Version::V2017 => "HJ 212-2017",
        Version::V2025 => "HJ 212-2025",
    }
}

/// One frame as text: a title line, a table of header fields, factors, plain keys, deviations and
/// the reply, followed by an empty line.
pub fn render(n: u64, r: &Report, mode: CrcMode, lang: Lang) -> String {
    let l = labels(lang);
    let mut s = String::new();
    let verdict = if r.ok() { l.accepted } else { l.refused };
    let _ = writeln!(s, "{} {n}  {}  {verdict}", l.frame, (l.bytes)(r.start, r.length));

    let mut head = Table::new();
    if let Some(e) = &r.error {
        let kind = match lang {
            Lang::Zh => format!("{}（{}）：", kind_zh(e.kind), e.kind.name()),
            Lang::En => format!("{}: ", e.kind.name()),
        };
        head.row([l.error, &format!("{kind}{}", e.message)]);
        head.row([l.offset, &(l.byte_at)(e.offset)]);
        if let Some(f) = &e.field {
            head.row([l.field, f.as_str()]);
        }
    }
    if let Some(p) = &r.packet {
        header_rows(&mut head, p, l, lang);
    }
    if let Some(c) = &r.crc {
        head.row([l.crc, &crc_values(c, l), &crc_verdict(c, mode, l)]);
    }
    head.render("  ", &mut s);

    if let Some(p) = &r.packet {
        if !p.factors.is_empty() {
            s.push('\n');
            factor_table(&p.factors, l, lang).render("  ", &mut s);
        }
        if !p.keys.is_empty() {
            s.push('\n');
            let mut t = Table::new();
            t.row([l.key, l.value, l.meaning]);
            for (k, v) in &p.keys {
                t.row([k.as_str(), v.as_str(), key_meaning(k, v, lang).as_str()]);
            }
            t.render("  ", &mut s);
        }
    }

    if r.crc.is_some() {
        s.push('\n');
        let mut t = Table::new();
        let mut first = true;
        for d in r.deviations.iter() {
            let label = if first { l.deviations } else { "" };
            first = false;
            match lang {
                Lang::Zh => t.row([label, d.name(), d.description_zh()]),
                Lang::En => t.row([label, d.name(), d.description_en()]),
            }
        }
        if first {
            t.row([l.deviations, l.none]);
        }
        let reply = match (&r.reply, r.ok()) {
            (Some(bytes), _) => String::from_utf8_lossy(bytes).trim_end().to_string(),
            (None, true) => l.reply_none.to_string(),
            (None, false) => l.reply_untrusted.to_string(),
        };
        t.row([l.reply, reply.as_str()]);
        t.render("  ", &mut s);
    }
    s.push('\n');
    s
}

fn header_rows(t: &mut Table, p: &PacketReport, l: &Labels, lang: Lang) {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
    t.row([l.version, version_title(p.version), ""]);
    t.row(["QN", &opt(&p.qn), ""]);
    let st = p.st.as_deref().and_then(|st| codes::system_name(st, lang)).unwrap_or("");
    t.row(["ST", &opt(&p.st), st]);
    t.row(["CN", &p.cn, codes::command_name(&p.cn, lang).unwrap_or("")]);
    t.row(["PW", &opt(&p.pw), ""]);
    t.row(["MN", &p.mn, ""]);
    match p.flag {
        Some(f) => {
            let version = Version::from_bits(f >> 2)
                .map_or_else(|| format!("V{}", f >> 2), |v| version_title(v).into());
            let mut parts = vec![version, if p.ack_required { l.ack } else { l.no_ack }.into()];
            if p.is_split {
                parts.push(l.split.into());
            }
            let sep = if lang == Lang::Zh { "，" } else { ", " };
            t.row(["Flag", &f.to_string(), &parts.join(sep)]);
        }
        None => t.row(["Flag", "—", ""]),
    }
    if p.pnum.is_some() || p.pno.is_some() {
        let fmt = |v: Option<u32>| v.map_or_else(|| "—".into(), |v| v.to_string());
        t.row(["PNUM/PNO", &format!("{}/{}", fmt(p.pno), fmt(p.pnum)), ""]);
    }
    if let Some(dt) = &p.data_time {
        t.row([l.data_time, &dt.iso8601(), ""]);
    }
}

fn crc_values(c: &CrcCheck, l: &Labels) -> String {
    let hex = |v: u16| String::from_utf8_lossy(&hex4(v)).into_owned();
    format!("{} {}  {} {}", l.declared, hex(c.declared), l.computed, hex(c.computed))
}

fn crc_verdict(c: &CrcCheck, mode: CrcMode, l: &Labels) -> String {
    match c.variant {
        Some(v) if c.accepted => (l.crc_ok)((l.variant)(v)),
        Some(v) => (l.crc_refused_variant)((l.variant)(v), mode.name()),
        None => l.crc_mismatch.to_string(),
    }
}

fn factor_table(factors: &[FactorReport], l: &Labels, lang: Lang) -> Table {
    let mut t = Table::new();
    t.row([l.factor, l.name, l.field, l.value, l.unit]);
    for f in factors {
        let info = codes::factor(&f.code);
        let code = if f.raw_code != f.code { format!("{} ({})", f.code, f.raw_code) } else { f.code.clone() };
        let name = info.map_or(l.unknown_factor, |i| i.name(lang));
        for (i, field) in f.fields.iter().enumerate() {
            let (code, name) = if i == 0 { (code.as_str(), name) } else { ("", "") };
            t.row([code, name, &field.name, &field.value, &field_note(field, info, lang)]);
        }
    }
    t
}

/// The unit of a numeric field, or the meaning of a flag.
fn field_note(field: &FieldReport, info: Option<&codes::FactorInfo>, lang: Lang) -> String {
    match field.field {
        Field::Flag => codes::data_flag_meaning(&field.value, lang).unwrap_or("").into(),
        Field::Cou => info
            .map(|i| match lang {
                Lang::Zh => i.amount_unit_zh,
                Lang::En => i.amount_unit_en,
            })
            .unwrap_or("")
            .into(),
        Field::Rtd
        | Field::Min
        | Field::Avg
        | Field::Max
        | Field::ZsRtd
        | Field::ZsMin
        | Field::ZsAvg
        | Field::ZsMax
        | Field::Data
        | Field::DayData
        | Field::NightData => info.map(|i| i.unit(lang)).unwrap_or("").into(),
        _ => String::new(),
    }
}

/// What a plain key's value means, where the standard has a table for it.
fn key_meaning(key: &str, value: &str, lang: Lang) -> String {
    let m = match key {
        "QnRtn" => codes::qn_rtn_meaning(value, lang),
        "ExeRtn" => codes::exe_rtn_meaning(value, lang),
        "Flag" => codes::data_flag_meaning(value, lang),
        "PolId" => codes::factor(value).map(|f| f.name(lang)),
        _ => None,
    };
    if let Some(m) = m {
        return m.into();
    }
    if matches!(key, "SystemTime" | "BeginTime" | "EndTime" | "RestartTime" | "SampleTime" | "CTime")
        && let Ok((t, _)) = hj212::DateTime::parse(value)
    {
        return t.iso8601();
    }
    String::new()
}
