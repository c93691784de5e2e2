//! A data segment straight into the parser, with every option set; accepted packets are
//! rebuilt and replied to.
#![no_main]

use hj212_fuzz::{OPTIONS, check_packet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for opts in &OPTIONS {
        if let Ok(p) = hj212::parse(data, opts) {
            check_packet(&p, opts);
        }
    }
});
