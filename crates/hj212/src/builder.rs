//! Building packets: every upload, request and reply a platform and a data logger exchange, with
//! the right length and CRC.

use crate::crc::{crc16, hex4};
use crate::datetime::DateTime;
use crate::packet::{FLAG_ACK, FLAG_SPLIT, Field, Packet, Version};

/// The longest data segment a frame can carry: the length field has four digits.
pub const MAX_FRAMED_SEGMENT: usize = 9999;

/// A segment too long for the four-digit length field; split it first ([`crate::split`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a data segment of {0} bytes cannot be framed: the length field holds at most 9999")]
pub struct SegmentTooLong(pub usize);

/// Frame a data segment: `##` + length + segment + CRC + CR LF.
pub fn frame(segment: &[u8]) -> Result<Vec<u8>, SegmentTooLong> {
    let mut out = Vec::with_capacity(segment.len() + 12);
    frame_into(segment, &mut out)?;
    Ok(out)
}

/// Like [`frame`], appending to `out` (nothing is appended when the segment is too long).
pub fn frame_into(segment: &[u8], out: &mut Vec<u8>) -> Result<(), SegmentTooLong> {
    let len = segment.len();
    if len > MAX_FRAMED_SEGMENT {
        return Err(SegmentTooLong(len));
    }
    out.extend_from_slice(b"##");
    out.extend_from_slice(format!("{len:04}").as_bytes());
    out.extend_from_slice(segment);
    out.extend_from_slice(&hex4(crc16(segment)));
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// A data segment under construction. CP is a list of groups: the items of one group are joined
/// with `,`, groups with `;` (the standard joins the fields of one factor with `,`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PacketBuilder {
    pub qn: Option<String>,
    pub st: Option<String>,
    pub cn: String,
    pub pw: Option<String>,
    pub mn: String,
    pub flag: Option<u8>,
    pub pnum: Option<u32>,
    pub pno: Option<u32>,
    /// Header keys after PNO (e.g. a 2025 `RF`), in order.
    pub extra_header: Vec<(String, String)>,
    pub cp: Vec<Vec<(String, String)>>,
}

impl PacketBuilder {
    pub fn new(cn: &str, mn: &str) -> Self {
        PacketBuilder { cn: cn.into(), mn: mn.into(), ..Default::default() }
    }

    pub fn qn(mut self, qn: impl Into<String>) -> Self {
        self.qn = Some(qn.into());
        self
    }
    pub fn st(mut self, st: impl Into<String>) -> Self {
        self.st = Some(st.into());
        self
    }
    pub fn pw(mut self, pw: impl Into<String>) -> Self {
        self.pw = Some(pw.into());
        self
    }
    /// Set Flag from a version and the A (reply wanted) bit. HJ/T 212-2005 uploads have no Flag.
    pub fn version(mut self, v: Version, ack: bool) -> Self {
        self.flag = Some((v.bits() << 2) | if ack { FLAG_ACK } else { 0 });
        self
    }
    pub fn flag(mut self, flag: Option<u8>) -> Self {
        self.flag = flag;
        self
    }
    /// Add a plain key as its own group.
    pub fn key(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.cp.push(vec![(k.into(), v.into())]);
        self
    }
    /// Add `DataTime`.
    pub fn data_time(self, t: &DateTime) -> Self {
        self.key("DataTime", t.compact())
    }
    /// Add the fields of one factor as one group: `code-Field=value,…`.
    pub fn factor<'f>(mut self, code: &str, fields: impl IntoIterator<Item = (&'f str, String)>) -> Self {
        let group = fields.into_iter().map(|(f, v)| (format!("{code}-{f}"), v)).collect();
        self.cp.push(group);
        self
    }

    /// The data segment.
    pub fn segment(&self) -> String {
        let mut s = String::with_capacity(128 + self.cp.len() * 48);
        let mut head = |k: &str, v: &str| {
            s.push_str(k);
            s.push('=');
            s.push_str(v);
            s.push(';');
        };
        if let Some(v) = &self.qn {
            head("QN", v);
        }
        if let Some(v) = &self.st {
            head("ST", v);
        }
        head("CN", &self.cn);
        if let Some(v) = &self.pw {
            head("PW", v);
        }
        head("MN", &self.mn);
        if let Some(f) = self.flag {
            head("Flag", &f.to_string());
        }
        if let Some(n) = self.pnum {
            head("PNUM", &n.to_string());
        }
        if let Some(n) = self.pno {
            head("PNO", &n.to_string());
        }
        for (k, v) in &self.extra_header {
            head(k, v);
        }
        s.push_str("CP=&&");
        s.push_str(&cp_text(&self.cp));
        s.push_str("&&");
        s
    }

    /// The framed packet. A segment too long for one frame (over 9999 bytes) is sent as the
    /// standard sends long data: split into sub-packets of at most 1024 bytes, one after the
    /// other. Use [`PacketBuilder::try_build`] to refuse instead.
    pub fn build(&self) -> Vec<u8> {
        match self.try_build() {
            Ok(b) => b,
            Err(_) => crate::split::split_standard(self).map(|parts| parts.concat()).unwrap_or_default(),
        }
    }

    /// The framed packet, or why it cannot be one frame.
    pub fn try_build(&self) -> Result<Vec<u8>, SegmentTooLong> {
        frame(self.segment().as_bytes())
    }

    /// A builder holding everything a parsed packet carried, so that rebuilding a conformant
    /// packet gives back the same bytes.
    pub fn from_packet(p: &Packet<'_>) -> Self {
        let mut b = PacketBuilder {
            // A HJ/T 212-2005 packet's QN may have been taken from CP (see `parse`); it stays
            // there. A QN the header carried (even beside one in CP) stays in the header.
            qn: p.qn.filter(|q| !p.key("QN").is_some_and(|k| std::ptr::eq(k, *q))).map(Into::into),
            st: p.st.map(Into::into),
            cn: p.cn.into(),
            pw: p.pw.map(Into::into),
            mn: p.mn.into(),
            flag: p.flag,
            pnum: p.pnum,
            pno: p.pno,
            extra_header: p.extra_header.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
            cp: Vec::new(),
        };
        b.cp = group_items(p);
        b
    }
}

/// Group a packet's CP items the way the standard writes them: consecutive fields of one factor
/// share a group, every plain key is a group of its own.
pub(crate) fn group_items(p: &Packet<'_>) -> Vec<Vec<(String, String)>> {
    let mut groups: Vec<Vec<(String, String)>> = Vec::new();
    let mut last: Option<&str> = None;
    for it in p.items() {
        let pair = (it.key().to_string(), it.value().to_string());
        match (it.field(), it.raw_code()) {
            (Field::Key, _) | (_, None) => {
                groups.push(vec![pair]);
                last = None;
            }
            (_, Some(code)) => {
                if last == Some(code) {
                    if let Some(g) = groups.last_mut() {
                        g.push(pair);
                    }
                } else {
                    groups.push(vec![pair]);
                    last = Some(code);
                }
            }
        }
    }
    groups
}

pub(crate) fn cp_text(groups: &[Vec<(String, String)>]) -> String {
    let mut s = String::new();
    for (gi, g) in groups.iter().enumerate() {
        if gi > 0 {
            s.push(';');
        }
        for (ii, (k, v)) in g.iter().enumerate() {
            if ii > 0 {
                s.push(',');
            }
            s.push_str(k);
            s.push('=');
            s.push_str(v);
        }
    }
    s
}

/// Identity of the sender or receiver of platform–device exchanges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer<'a> {
    pub mn: &'a str,
    pub pw: &'a str,
    /// System code of the device (31 air, 32 water, …).
    pub st: &'a str,
    pub version: Version,
}

/// Replies and requests a platform sends.
pub mod platform {
    use super::*;

    fn reply_to(p: &Packet<'_>, cn: &str) -> PacketBuilder {
        let mut b = PacketBuilder::new(cn, p.mn).st("91");
        b.qn = p.qn.map(Into::into);
        b.pw = p.pw.map(Into::into);
        // Replies carry the sender's version and no A bit (the standard's examples use Flag=4).
        if p.flag.is_some() {
            b.flag = Some(p.version.bits() << 2);
        }
        b
    }

    /// 9014 data reply to an upload.
    pub fn data_ack(p: &Packet<'_>) -> PacketBuilder {
        reply_to(p, "9014")
    }

    /// 9013 notification reply.
    pub fn notify_ack(p: &Packet<'_>) -> PacketBuilder {
        reply_to(p, "9013")
    }

    /// The reply a platform owes `p`, if any: 9014 for uploads that ask for one, 9013 for
    /// notifications (1013), nothing for replies and heartbeats.
    pub fn reply_for(p: &Packet<'_>) -> Option<PacketBuilder> {
        match p.cn {
            "1013" => Some(notify_ack(p)),
            cn if cn.starts_with("90") => None,
            _ if p.ack_required() => Some(data_ack(p)),
            _ => None,
        }
    }

    fn request(peer: &Peer<'_>, qn: &DateTime, cn: &str) -> PacketBuilder {
        PacketBuilder::new(cn, peer.mn).qn(qn.qn()).st(peer.st).pw(peer.pw).version(peer.version, true)
    }

    /// 1000: set timeout and retry count.
    pub fn set_timeout(peer: &Peer<'_>, qn: &DateTime, overtime: u32, recount: u32) -> PacketBuilder {
        request(peer, qn, "1000").key("OverTime", overtime.to_string()).key("ReCount", recount.to_string())
    }
    /// 1011: get the device's time (optionally of one instrument).
    pub fn get_time(peer: &Peer<'_>, qn: &DateTime, pol_id: Option<&str>) -> PacketBuilder {
        let b = request(peer, qn, "1011");
        match pol_id {
            Some(p) => b.key("PolId", p),
            None => b,
        }
    }
    /// 1012: set the device's time.
    pub fn set_time(peer: &Peer<'_>, qn: &DateTime, pol_id: Option<&str>, time: &DateTime) -> PacketBuilder {
        let b = request(peer, qn, "1012");
        let b = match pol_id {
            Some(p) => b.key("PolId", p),
            None => b,
        };
        b.key("SystemTime", time.compact())
    }
    /// 1061 / 1063: get the real-time or minute interval.
    pub fn get_interval(peer: &Peer<'_>, qn: &DateTime, minute: bool) -> PacketBuilder {
        request(peer, qn, if minute { "1063" } else { "1061" })
    }
    /// 1062: set the real-time interval (seconds).
    pub fn set_rtd_interval(peer: &Peer<'_>, qn: &DateTime, seconds: u32) -> PacketBuilder {
        request(peer, qn, "1062").key("RtdInterval", seconds.to_string())
    }
    /// 1064: set the minute interval (minutes).
    pub fn set_min_interval(peer: &Peer<'_>, qn: &DateTime, minutes: u32) -> PacketBuilder {
        request(peer, qn, "1064").key("MinInterval", minutes.to_string())
    }
    /// 1072: set the device's password.
    pub fn set_password(peer: &Peer<'_>, qn: &DateTime, new_pw: &str) -> PacketBuilder {
        request(peer, qn, "1072").key("NewPW", new_pw)
    }
    /// 2011 / 2021: start real-time data or facility status.
    pub fn start_realtime(peer: &Peer<'_>, qn: &DateTime, status: bool) -> PacketBuilder {
        request(peer, qn, if status { "2021" } else { "2011" })
    }
    /// 2012 / 2022: stop real-time data or facility status (notifications).
    pub fn stop_realtime(peer: &Peer<'_>, qn: &DateTime, status: bool) -> PacketBuilder {
        // A notification: the device answers 9013, so the A bit is set (C.11, C.13: Flag=5).
        request(peer, qn, if status { "2022" } else { "2012" })
    }
    /// 2031 / 2041 / 2051 / 2061: request history between two instants.
    pub fn history(
        peer: &Peer<'_>,
        qn: &DateTime,
        cn: &str,
        begin: &DateTime,
        end: &DateTime,
    ) -> PacketBuilder {
        request(peer, qn, cn).key("BeginTime", begin.compact()).key("EndTime", end.compact())
    }
    /// 3011–3021 control commands, with their CP keys.
    pub fn control(peer: &Peer<'_>, qn: &DateTime, cn: &str, keys: &[(&str, &str)]) -> PacketBuilder {
        keys.iter().fold(request(peer, qn, cn), |b, (k, v)| b.key(*k, *v))
    }
}

/// Uploads and replies a data logger sends.
pub mod device {
    use super::*;

    fn reply_to(p: &Packet<'_>, cn: &str) -> PacketBuilder {
        let mut b = PacketBuilder::new(cn, p.mn).st("91");
        b.pw = p.pw.map(Into::into);
        if p.version == Version::V2005 {
            // HJ/T 212-2005 carries the request's QN inside CP.
            if let Some(qn) = p.qn {
                b = b.key("QN", qn);
            }
        } else {
            b.qn = p.qn.map(Into::into);
            b.flag = Some(p.version.bits() << 2);
        }
        b
    }

    /// 9011 request reply (QnRtn, table 7).
    pub fn request_reply(p: &Packet<'_>, qn_rtn: u32) -> PacketBuilder {
        reply_to(p, "9011").key("QnRtn", qn_rtn.to_string())
    }
    /// 9012 execution result (ExeRtn, table 6).
    pub fn exe_result(p: &Packet<'_>, exe_rtn: u32) -> PacketBuilder {
        reply_to(p, "9012").key("ExeRtn", exe_rtn.to_string())
    }
    /// 9013 notification reply.
    pub fn notify_ack(p: &Packet<'_>) -> PacketBuilder {
        reply_to(p, "9013")
    }

    /// A data upload (2011/2021/2031/2041/2051/2061) at `time`, with `ack` asking for a 9014.
    /// HJ/T 212-2005 uploads carry no QN and no Flag.
    pub fn upload(peer: &Peer<'_>, qn: &DateTime, cn: &str, time: &DateTime, ack: bool) -> PacketBuilder {
        let b = PacketBuilder::new(cn, peer.mn).st(peer.st).pw(peer.pw);
        let b = if peer.version == Version::V2005 { b } else { b.qn(qn.qn()).version(peer.version, ack) };
        b.data_time(time)
    }
    /// 1011 upload of the device time, in answer to a request.
    pub fn time_upload(req: &Packet<'_>, time: &DateTime) -> PacketBuilder {
        let mut b = PacketBuilder::new("1011", req.mn).st(req.st.unwrap_or("32"));
        b.qn = req.qn.map(Into::into);
        b.pw = req.pw.map(Into::into);
        b.flag = req.flag.map(|_| req.version.bits() << 2);
        if let Some(p) = req.key("PolId") {
            b = b.key("PolId", p);
        }
        b.key("SystemTime", time.compact())
    }
    /// 1013 time calibration request (a notification to the platform).
    /// `pol_id`: the instrument whose clock needs calibrating (C.4); none for the data logger's.
    pub fn time_calibration_request(peer: &Peer<'_>, qn: &DateTime, pol_id: Option<&str>) -> PacketBuilder {
        let b = PacketBuilder::new("1013", peer.mn)
            .qn(qn.qn())
            .st(peer.st)
            .pw(peer.pw)
            .version(peer.version, true);
        match pol_id {
            Some(p) => b.key("PolId", p),
            None => b,
        }
    }
    /// 9021 heartbeat some platforms expect (non-standard).
    pub fn heartbeat(peer: &Peer<'_>, qn: &DateTime) -> PacketBuilder {
        PacketBuilder::new("9021", peer.mn).qn(qn.qn()).st(peer.st).pw(peer.pw).version(peer.version, false)
    }
}

/// Mark a builder as part `pno` of `pnum`.
pub(crate) fn mark_split(b: &mut PacketBuilder, pnum: u32, pno: u32) {
    b.flag = Some(b.flag.unwrap_or(Version::V2017.bits() << 2) | FLAG_SPLIT);
    b.pnum = Some(pnum);
    b.pno = Some(pno);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{ParseOptions, parse};

    #[test]
    fn segments_over_9999_bytes_are_refused_or_split() {
        assert_eq!(frame(&[b'a'; 10_000]), Err(SegmentTooLong(10_000)));
        let mut out = b"kept".to_vec();
        assert!(frame_into(&[b'a'; 10_000], &mut out).is_err());
        assert_eq!(out, b"kept");
        assert_eq!(frame(&[b'a'; 9999]).map(|f| f.len()), Ok(9999 + 12));

        let t = DateTime::new(2024, 5, 1, 10, 0, 0).unwrap();
        let peer = Peer { mn: "M1", pw: "123456", st: "31", version: Version::V2017 };
        let mut b = device::upload(&peer, &t, "2051", &t, true);
        for i in 0..600 {
            b = b.factor(&format!("a99{i:03}"), [("Avg", "12.5".to_string()), ("Flag", "N".to_string())]);
        }
        assert!(b.segment().len() > 9999);
        assert!(b.try_build().is_err());
        // build() sends it the standard's way: complete sub-packets of at most 1024 bytes that
        // carry every factor.
        let bytes = b.build();
        let mut f = crate::frame::Framer::new(Default::default());
        f.push(&bytes);
        f.finish();
        let mut factors = 0;
        while let Some(ev) = f.next() {
            let crate::frame::Event::Frame(raw) = ev else { panic!("not a frame") };
            assert!(raw.segment.len() <= 1024);
            factors += parse(raw.segment, &ParseOptions::default()).unwrap().factors().count();
        }
        assert_eq!(factors, 600);
    }

    #[test]
    fn appendix_a_rebuilds() {
        let b = PacketBuilder::new("1062", "010000A8900016F000169DC0")
            .qn("20160801085857223")
            .st("32")
            .pw("100000")
            .flag(Some(5))
            .key("RtdInterval", "30");
        assert_eq!(
            b.build(),
            b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n"
        );
    }

    #[test]
    fn replies() {
        let seg = b"QN=20160801085857223;ST=32;CN=2061;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20160801080000;w01018-Avg=1&&";
        let p = parse(seg, &ParseOptions::default()).unwrap();
        let r = platform::reply_for(&p).unwrap();
        assert_eq!(
            r.segment(),
            "QN=20160801085857223;ST=91;CN=9014;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&&&"
        );
        let q = device::request_reply(&p, 1);
        assert_eq!(
            q.segment(),
            "QN=20160801085857223;ST=91;CN=9011;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&QnRtn=1&&"
        );
        let no_ack = parse(b"QN=1;ST=32;CN=2011;PW=1;MN=1;Flag=4;CP=&&&&", &ParseOptions::default()).unwrap();
        assert!(platform::reply_for(&no_ack).is_none());
    }

    #[test]
    fn v2005_header_qn_beside_cp_qn_is_kept() {
        // Found by fuzzing: the header QN was dropped whenever CP had a QN too.
        for seg in [
            "QN=20040516010101001;ST=91;CN=9011;PW=1;MN=1;CP=&&QN=20040516010101002;QnRtn=1&&",
            "ST=91;CN=9011;PW=1;MN=1;CP=&&QN=20040516010101002;QnRtn=1&&",
            "QN=20160801085857223;ST=91;CN=9011;PW=1;MN=1;Flag=4;CP=&&QN=20160801085857223;QnRtn=1&&",
        ] {
            let p = parse(seg.as_bytes(), &ParseOptions::default()).unwrap();
            assert_eq!(PacketBuilder::from_packet(&p).segment(), seg);
        }
    }

    #[test]
    fn history_request() {
        let peer = Peer { mn: "010000A8900016F000169DC0", pw: "123456", st: "32", version: Version::V2017 };
        let (qn, _) = DateTime::parse("20160801085857223").unwrap();
        let (b, _) = DateTime::parse("20160801080000").unwrap();
        let r = platform::history(&peer, &qn, "2061", &b, &b);
        assert_eq!(
            r.segment(),
            "QN=20160801085857223;ST=32;CN=2061;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&BeginTime=20160801080000;EndTime=20160801080000&&"
        );
    }

    #[test]
    fn v2005_upload_has_no_qn_or_flag() {
        let peer = Peer { mn: "88888880000001", pw: "123456", st: "32", version: Version::V2005 };
        let (t, _) = DateTime::parse("20040516020111").unwrap();
        let s = device::upload(&peer, &t, "2011", &t, true)
            .factor("011", [("Rtd", "50.2".to_string())])
            .segment();
        assert_eq!(
            s,
            "ST=32;CN=2011;PW=123456;MN=88888880000001;CP=&&DataTime=20040516020111;011-Rtd=50.2&&"
        );
    }
}
