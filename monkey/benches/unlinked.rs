//! std TCP round trips in a binary that does not link greenstd-monkey: the
//! baseline of `benches/monkey.rs`, which runs this binary and reports the
//! number it prints.

include!("common.rs");

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let trips = if quick { 10_000 } else { 50_000 };
    println!("{}", std_tcp_round_trip_ns(trips, 5));
}
