//! Writes the seed corpora from the Appendix C vectors: `corpus/framer_parse/` gets each record
//! framed (after a selector byte), as printed and with its `…` removed, plus all of them back to
//! back in streams of at most 4 KiB; `corpus/parse_segment/` gets the bare segments.

use std::fs;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let vectors = fs::read_to_string(root.join("../crates/hj212/tests/vectors/appendix_c.txt"))
        .expect("reading the Appendix C vectors");
    let framer_dir = root.join("corpus/framer_parse");
    let parse_dir = root.join("corpus/parse_segment");
    fs::create_dir_all(&framer_dir).unwrap();
    fs::create_dir_all(&parse_dir).unwrap();
    // Several records back to back, in streams of at most 4 KiB.
    let mut streams = Vec::new();
    let mut stream = vec![0u8];
    let mut n = 0;
    for (i, line) in vectors.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let seg = line.rsplit('\t').next().unwrap();
        for (variant, s) in
            [("printed", seg.to_string()), ("stripped", seg.replace(";…", "").replace('…', ""))]
        {
            if variant == "stripped" && s == seg {
                continue;
            }
            let framed = hj212::builder::frame(s.as_bytes()).unwrap();
            let mut input = vec![(i % 256) as u8];
            input.extend(&framed);
            fs::write(framer_dir.join(format!("line{:03}-{variant}", i + 1)), &input).unwrap();
            fs::write(parse_dir.join(format!("line{:03}-{variant}", i + 1)), s.as_bytes()).unwrap();
            if stream.len() + framed.len() > 4096 {
                streams.push(std::mem::replace(&mut stream, vec![(streams.len() % 256) as u8]));
            }
            stream.extend(&framed);
            n += 1;
        }
    }
    streams.push(stream);
    for (i, s) in streams.iter().enumerate() {
        fs::write(framer_dir.join(format!("stream{i:02}")), s).unwrap();
    }
    println!("wrote {n} seeds to each of {} and {}", framer_dir.display(), parse_dir.display());
}
