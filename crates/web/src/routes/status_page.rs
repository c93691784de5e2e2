//! `/`: the plain status page — what is connected and what arrived, in Chinese with English labels.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use fenhe_core::china_time::seconds_text;
use fenhe_store::Store;

use crate::error::AppError;
use crate::html::escape;
use crate::state::{AppState, Live, WebConfig};
use crate::status::gather;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/", get(page))
}

fn verdict_zh(v: &str) -> &'static str {
    match v {
        "accepted" => "已接收",
        "rejected" => "已拒收",
        "duplicate" => "重复",
        "unregistered" => "未登记设备",
        "wrong_password" => "密码错误",
        _ => "其他",
    }
}

fn reason_zh(r: &str) -> &'static str {
    match r {
        "header" => "非报文字节",
        "length" => "长度错误",
        "crc" => "CRC 校验错误",
        "syntax" => "格式错误",
        "field" => "字段错误",
        "too_long" => "超长",
        "auth" => "认证失败",
        "rate" => "超频",
        _ => "",
    }
}

async fn page(
    State(store): State<Arc<dyn Store>>,
    State(live): State<Live>,
    State(config): State<Arc<WebConfig>>,
) -> Result<Html<String>, AppError> {
    let s = gather(store.as_ref(), live.0.as_ref()).await?;
    let mut b = String::new();
    b.push_str(concat!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">",
        "<meta http-equiv=\"refresh\" content=\"5\">",
        "<title>fenhe 运行状态</title><style>",
        "body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;margin:2rem;color:#222}",
        "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .7rem;text-align:left}",
        "th{background:#f3f3f3}.num{text-align:right}small{color:#666}",
        "</style></head><body>"
    ));
    b.push_str("<h1>fenhe 汾河 · 运行状态 <small>Status</small></h1>");
    for line in &config.banner {
        let _ = write!(b, "<p>{}</p>", escape(line));
    }
    let _ = write!(
        b,
        "<p>启动时间 Started: {} · 当前连接 Connections: <b id=\"connections\">{}</b> · 在线设备 Online: <b id=\"online\">{}</b> / 登记设备 Registered: {} · 待处理未登记设备 Inbox: {}</p>",
        seconds_text(s.live.started_at),
        s.live.connections,
        s.live.devices_online.len(),
        s.registered_devices,
        s.inbox
    );

    b.push_str("<h2>本次运行接收的报文 <small>Frames since start</small></h2><table id=\"live-frames\"><tr><th>结果 Verdict</th><th class=\"num\">数量 Count</th></tr>");
    for (v, n) in &s.live.frames_by_verdict {
        let _ = write!(
            b,
            "<tr><td>{} <small>{}</small></td><td class=\"num\">{n}</td></tr>",
            verdict_zh(v),
            escape(v)
        );
    }
    b.push_str("</table>");

    b.push_str("<h2>拒收原因 <small>Rejected by reason</small></h2><table id=\"rejected\"><tr><th>原因 Reason</th><th class=\"num\">数量 Count</th></tr>");
    for (r, n) in &s.live.rejected_by_reason {
        let _ = write!(
            b,
            "<tr><td>{} <small>{}</small></td><td class=\"num\">{n}</td></tr>",
            reason_zh(r),
            escape(r)
        );
    }
    b.push_str("</table>");

    b.push_str("<h2>累计存储 <small>Stored since the database was created</small></h2><table id=\"stored\"><tr><th>结果 Verdict</th><th>原因 Reason</th><th class=\"num\">数量 Count</th></tr>");
    for c in &s.stored {
        let _ = write!(
            b,
            "<tr><td>{} <small>{}</small></td><td>{} <small>{}</small></td><td class=\"num\">{}</td></tr>",
            verdict_zh(&c.verdict),
            escape(&c.verdict),
            reason_zh(&c.reason),
            escape(&c.reason),
            c.count
        );
    }
    b.push_str("</table>");

    b.push_str("<h2>在线设备 <small>Devices online</small></h2><table id=\"devices\"><tr><th>MN</th><th>地址 Peer</th><th>上线 Since</th></tr>");
    for d in &s.live.devices_online {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&d.mn),
            escape(&d.peer),
            seconds_text(d.since)
        );
    }
    b.push_str(
        "</table><p><a href=\"/api/status\">JSON</a> · <a href=\"/metrics\">/metrics</a></p></body></html>",
    );
    Ok(Html(b))
}
