//! Raising the open-file limit: thousands of connections need thousands of descriptors.

/// Raise the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit now in force.
pub fn raise_nofile_limit() -> std::io::Result<u64> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own; no other memory is touched.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        let want = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
        // SAFETY: setrlimit only reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        lim = want;
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
    Ok(lim.rlim_cur as u64)
}

/// Descriptors kept for everything but the connections of the two listeners: the database, its
/// WAL and shared memory on every pooled connection, the listeners, the runtime's own, logs.
pub const BASE_RESERVE: u64 = 128;

/// HTTP connections to serve at once: `wanted`, unless `nofile` descriptors less a reserve for
/// the gateway (`gateway_connections` and [`BASE_RESERVE`]) hold fewer. Web clients can then
/// never take the descriptors a device connecting to the gateway needs. At least one.
pub fn http_connection_cap(wanted: usize, nofile: u64, gateway_connections: usize) -> usize {
    let reserve = BASE_RESERVE.saturating_add(gateway_connections as u64);
    let room = usize::try_from(nofile.saturating_sub(reserve)).unwrap_or(usize::MAX);
    if room < wanted {
        tracing::warn!(
            wanted,
            serving = room.max(1),
            nofile,
            gateway_connections,
            "the open-file limit leaves room for fewer HTTP connections than asked; raise `ulimit -n` \
             or lower --max-connections"
        );
    }
    wanted.min(room).max(1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_http_cap_leaves_the_gateway_its_descriptors() {
        use super::{BASE_RESERVE, http_connection_cap};
        assert_eq!(http_connection_cap(1024, 1_048_576, 10_000), 1024);
        assert_eq!(http_connection_cap(1024, 1100, 50), 1100 - 50 - BASE_RESERVE as usize);
        assert_eq!(http_connection_cap(1024, 100, 10_000), 1);
    }

    #[test]
    fn raises_to_at_least_the_current_limit() {
        let n = super::raise_nofile_limit().unwrap();
        assert!(n >= 64);
    }
}
