//! Gateway configuration. Every limit has a working default; tests shorten the timeouts.

use std::net::SocketAddr;
use std::time::Duration;

/// Everything the gateway can be told. `GatewayConfig::default()` is a production setting.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayConfig {
    /// Where to listen. Default `0.0.0.0:9212`; tests use `127.0.0.1:0` and read
    /// [`crate::Gateway::local_addr`].
    pub listen: SocketAddr,
    /// Connections served at once. Connections beyond this are accepted and closed at once (and
    /// counted in `fenhe_ingest_connections_refused_total`). Default 1024.
    pub max_connections: usize,
    /// Longest data segment the connection framer lets through (at most 9999, the four-digit
    /// length field). Each device's own limit is then applied per frame. Default 9999.
    pub max_segment_len: usize,
    /// Size of the buffer of one read (allocated for the read only, so idle connections hold
    /// none). Default 4096.
    pub read_buffer: usize,
    /// A connection that sends nothing for this long is closed. Default 300 s.
    pub idle_timeout: Duration,
    /// A write (acknowledgement or command) that does not complete within this closes the
    /// connection's sending side. Default 30 s.
    pub write_timeout: Duration,
    /// Frames one connection may send per second on average (token bucket refill rate). A
    /// connection over the rate is paced, not refused: the gateway stops reading its socket until
    /// the bucket refills, so TCP flow control slows the logger down and every frame is still
    /// stored. Zero, negative or infinite means no pacing. Default 50.
    pub frame_rate: f64,
    /// Burst size of the token bucket. Default 200.
    pub frame_burst: f64,
    /// A frame must be complete within this long of its first byte; a connection holding a
    /// partial frame (or a run of garbage) longer is closed, however often bytes trickle in.
    /// Default 30 s.
    pub frame_deadline: Duration,
    /// A connection must send a frame with a registered MN and its password within this long of
    /// connecting, or it is closed. Default 120 s.
    pub auth_deadline: Duration,
    /// Connections not yet authenticated ("strangers") held at once. Beyond it the oldest
    /// stranger is closed to make room, so strangers never take a registered device's place.
    /// Default 256.
    pub max_strangers: usize,
    /// Strangers from one IP address held at once (the oldest of that address is closed beyond
    /// it). Default 8; the demo and `fenhe bench ingest`, whose loggers all come from 127.0.0.1,
    /// raise it.
    pub max_strangers_per_address: usize,
    /// Failed authentications (a registered MN with a wrong or missing password) from one IP
    /// address within [`auth_failure_window`](Self::auth_failure_window) that make the gateway
    /// refuse that address for [`auth_block`](Self::auth_block) and raise a security alarm.
    /// Counted by address, never by MN, so a stranger cannot lock a device out. Default 10.
    pub auth_failures_max: usize,
    /// Default 10 minutes.
    pub auth_failure_window: Duration,
    /// Default 15 minutes.
    pub auth_block: Duration,
    /// Of each run of garbage from a connection not authenticated, the bytes kept (with the
    /// run's length, pieces and peer). Default 256.
    pub garbage_keep_bytes: usize,
    /// Bytes of records kept per day of what one address sent before authenticating (garbage
    /// runs, frames of unregistered MNs or wrong passwords); past it nothing more of that
    /// address is stored that day, only counted. Default 1 MiB.
    pub stranger_bytes_per_address: u64,
    /// The same across all addresses. Default 256 MiB.
    pub stranger_bytes_per_day: u64,
    /// Refused and closed connections are logged as one summary line with counts by reason at
    /// most this often (and counted in `fenhe_ingest_connections_refused_total{reason}`), not
    /// one line each. Default 10 s.
    pub refusal_log_interval: Duration,
    /// Submissions to the store one connection may have in flight; reading pauses beyond this.
    /// Default 32.
    pub max_in_flight: usize,
    /// Incomplete split packets held per connection (the stalest is dropped beyond this).
    /// Default 16.
    pub max_pending_splits: usize,
    /// Most parts a split packet may declare (PNUM); a part of a packet declaring more is
    /// recorded as rejected (`split: …`) and not acknowledged. Default 64.
    pub max_split_parts: u32,
    /// Bytes of split parts held per device (MN) on a connection; the part that would exceed it
    /// is rejected and the parts held of its packet discarded. Default 256 KiB.
    pub split_bytes_per_device: usize,
    /// Bytes of split parts held across the gateway, likewise. Default 64 MiB.
    pub split_bytes_total: usize,
    /// A split packet still incomplete this long after its first part is discarded. Default
    /// 10 minutes.
    pub split_max_age: Duration,
    /// Dialect policy for frames from MNs the registry does not know. Default: the standard
    /// CRC and 1024-byte segments.
    pub default_policy: DevicePolicy,
    /// How long to wait for a 9011 request reply before re-sending, and for each step of a
    /// command's execution. Default 10 s (HJ 212-2017 table 1).
    pub command_timeout: Duration,
    /// How many times a command is re-sent when no 9011 comes. Default 3 (table 1).
    pub command_retries: u32,
    /// How often the newest commands are looked up in the store, waking the connected devices
    /// that have one open (commands queued by another process, e.g. `fenhe device send`); each
    /// device also looks up all of its open commands 12 times less often. Default 5 s.
    pub command_poll: Duration,
    /// Ask each device for its time (1011) on its first authenticated frame of a connection.
    /// Default true.
    pub time_check_on_connect: bool,
    /// Connect-time clock checks started per second across the gateway. Each check is a few
    /// single-row transactions on the one write connection; when thousands of devices reconnect
    /// at once (a server restart), pacing them keeps those writes from starving data ingest.
    /// Default 10.
    pub clock_check_rate: f64,
    /// A device clock further than this from the server's is set (1012). Default 60 s.
    pub clock_skew_max: Duration,
    /// Request missing minute/hour records after a gap in uploads (2051/2061 history requests).
    /// Default true.
    pub gap_detection: bool,
    /// Longest span one gap request covers (older missing records are not asked for).
    /// Default 7 days.
    pub gap_max_span: Duration,
    /// History requests after gaps open at once per device. Overlapping requests not yet sent
    /// are merged into one; beyond this the newest queued request is widened instead of queueing
    /// another. Operator commands are always sent before them. Default 4.
    pub max_gap_requests: usize,
    /// On shutdown, how long connections get to finish committing and acknowledging what they
    /// have read. Default 10 s.
    pub shutdown_grace: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 9212)),
            max_connections: 1024,
            max_segment_len: 9999,
            read_buffer: 4096,
            idle_timeout: Duration::from_secs(300),
            write_timeout: Duration::from_secs(30),
            frame_rate: 50.0,
            frame_burst: 200.0,
            frame_deadline: Duration::from_secs(30),
            auth_deadline: Duration::from_secs(120),
            max_strangers: 256,
            max_strangers_per_address: 8,
            refusal_log_interval: Duration::from_secs(10),
            garbage_keep_bytes: 256,
            stranger_bytes_per_address: 1024 * 1024,
            stranger_bytes_per_day: 256 * 1024 * 1024,
            auth_failures_max: 10,
            auth_failure_window: Duration::from_secs(600),
            auth_block: Duration::from_secs(900),
            max_in_flight: 32,
            max_pending_splits: 16,
            max_split_parts: 64,
            split_bytes_per_device: 256 * 1024,
            split_bytes_total: 64 * 1024 * 1024,
            split_max_age: Duration::from_secs(600),
            default_policy: DevicePolicy::default(),
            command_timeout: Duration::from_secs(10),
            command_retries: 3,
            command_poll: Duration::from_secs(5),
            time_check_on_connect: true,
            clock_check_rate: 10.0,
            clock_skew_max: Duration::from_secs(60),
            gap_detection: true,
            gap_max_span: Duration::from_secs(7 * 24 * 3600),
            max_gap_requests: 4,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// How strictly one device's frames are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevicePolicy {
    pub crc: hj212::CrcMode,
    pub max_segment_len: usize,
}

impl Default for DevicePolicy {
    fn default() -> Self {
        DevicePolicy { crc: hj212::CrcMode::Standard, max_segment_len: hj212::frame::STANDARD_MAX_SEGMENT }
    }
}
