#!/usr/bin/env bash
# Regenerates fuzz/corpus/{framer_parse,parse_segment}/ (gitignored) from the Appendix C vectors.
set -euo pipefail
cd "$(dirname "$0")"
cargo run --quiet --release --bin seed
