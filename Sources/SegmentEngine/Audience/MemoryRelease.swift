#if canImport(Glibc)
    import Glibc
#endif

/// Hands memory the process has freed back to the system.
///
/// Loading a tenant frees a lot of scratch space (chunks as they are read, the
/// columns' doubling growth, the sort of each event type), and glibc keeps
/// freed heap pages for reuse: measured at the standard size, the process held
/// ~300 MiB more than the state it had built. glibc's `malloc_trim` returns the
/// free pages (looked up at run time: Swift's Glibc module does not export
/// `malloc.h`), so what the process holds is what the engine counts.
enum MemoryRelease {
    private typealias Trim = @convention(c) (Int) -> Int32

    private static let trim: Trim? = {
        #if canImport(Glibc)
            guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "malloc_trim") else { return nil }
            return unsafeBitCast(symbol, to: Trim.self)
        #else
            return nil
        #endif
    }()

    static func returnFreePages() {
        _ = trim?(0)
    }
}
