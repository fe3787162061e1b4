//! The `net` compat cases once more, with greenstd-monkey's hooks patched
//! in for the whole binary: std's own types, run inside coroutines, now go
//! through the hooks, and must still give std's results and error kinds.

#[path = "net.rs"]
mod cases;

/// Patches before any test runs (libtest starts the tests after the
/// binary's constructors).
extern "C" fn patch_at_load() {
    greenstd_monkey::patch_all().expect("a dynamically linked test binary");
}

#[used]
#[unsafe(link_section = ".init_array")]
static PATCH_AT_LOAD: extern "C" fn() = patch_at_load;

#[test]
fn the_hooks_are_on() {
    assert!(greenstd_monkey::is_patched());
}
