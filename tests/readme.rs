//! The README's example, kept honest (with smaller counts).

#[test]
fn readme_taste_runs() {
    use greenstd::thread;
    use std::time::Duration;

    let workers: Vec<_> = (0..1_000)
        .map(|i| {
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(10));
                i
            })
        })
        .collect();
    let sum: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(sum, 999 * 1000 / 2);
}
