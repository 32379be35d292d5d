//! The engine's only concurrency: two independent pieces of work on two threads (the machines it runs on have
//! at least two cores). Results never depend on it — each piece is deterministic on its own and the two are
//! combined in a fixed order.

/// Below this many items a second thread costs more than it saves.
pub(crate) const PARALLEL_MIN_ITEMS: usize = 50_000;

/// Runs `a` and `b`, on two threads when `parallel`, and returns both results. A panic in either is
/// propagated.
pub(crate) fn join<A: Send, B: Send>(
    parallel: bool,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if !parallel {
        return (a(), b());
    }
    std::thread::scope(|scope| {
        let b = scope.spawn(b);
        let a = a();
        (a, b.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}
