//! Per-clip frame reads of a cache, in a seeded random order (as training batches read them):
//! HDF5 hyperslabs (`Cache::frames`) against `RowReader` (positioned reads of uncompressed
//! chunks; HDF5 for compressed ones), one thread and all threads. The numbers behind the
//! choice in `ser_cache::rows`; benches/run_row_reads.sh writes benches/results/row_reads.md.
//!
//!   cargo run --release -p ser-cache --example row_reads -- CACHE.h5 [ARRAY]

use std::time::Instant;

use rayon::prelude::*;
use ser_cache::{Cache, RowReader};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = std::path::PathBuf::from(args.get(1).expect("usage: row_reads CACHE.h5 [ARRAY]"));
    let cache = Cache::open(&path).expect("open the cache");
    let name = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| cache.header.frame_layout[0].0.clone());
    let k = (cache.header.frame_layout.iter())
        .position(|(n, _)| *n == name)
        .expect("no such frame array");
    let dim = cache.header.frame_layout[k].1;
    let reader = RowReader::new(&cache).expect("row reader");
    // A seeded shuffle (xorshift), the order a training epoch reads clips in.
    let mut order: Vec<usize> = (0..cache.clips.len()).collect();
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    for i in (1..order.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        order.swap(i, (s % (i as u64 + 1)) as usize);
    }
    let mb: f64 = order
        .iter()
        .map(|&i| cache.clips[i].n_frames as f64 * dim as f64 * 4e-6)
        .sum();
    let read = |i: usize| {
        let c = &cache.clips[i];
        let mut out = vec![0f32; c.n_frames as usize * dim];
        reader.read(k, c.frame_offset as usize, &mut out).unwrap();
        out.len()
    };
    let mut rows = Vec::new();
    let mut time = |what: &str, f: &dyn Fn() -> usize| {
        f(); // warm the page cache
        let t = Instant::now();
        let n = f();
        let s = t.elapsed().as_secs_f64();
        rows.push(format!(
            "| {what} | {:.0} | {:.0} |",
            order.len() as f64 / s,
            mb / s
        ));
        assert!(n > 0);
    };
    time("HDF5 hyperslab per clip, 1 thread", &|| {
        order
            .iter()
            .map(|&i| cache.frames(&name, i).unwrap().len())
            .sum()
    });
    time("RowReader per clip, 1 thread", &|| {
        order.iter().map(|&i| read(i)).sum()
    });
    time(
        &format!(
            "RowReader per clip, {} threads",
            rayon::current_num_threads()
        ),
        &|| order.par_iter().map(|&i| read(i)).sum(),
    );
    println!(
        "{}: {} clips, {name} ({dim} wide), {mb:.0} MB; row reader direct: {}\n",
        path.display(),
        order.len(),
        reader.is_direct()
    );
    println!("| read | clips/s | MB/s |\n|---|---|---|");
    rows.iter().for_each(|r| println!("{r}"));
}
